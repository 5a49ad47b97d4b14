/**
 * SAMBridge for QuPath: remember the server once (QuPath preferences, kept across sessions).
 * Edit the three values, run it in the script editor; the other sam_*.groovy scripts read them.
 * The token: prefer a token file (preferences are stored in plain text) or $SAMBRIDGE_TOKEN.
 * Empty values are cleared (then $SAMBRIDGE_ADDRESS / $SAMBRIDGE_TOKEN / ~/.sambridge/token apply).
 */
import org.sambridge.qupath.ConnectionSettings
import qupath.lib.gui.prefs.PathPrefs

def ADDRESS = ""       // host:port of the SAMBridge server, e.g. "gpu-box:50051"
def TOKEN_FILE = ""    // a file whose first line is the token, e.g. "/home/me/.sambridge/token"
def TOKEN = ""         // the token itself (only if no token file)

def values = [(ConnectionSettings.ADDRESS_PREF): ADDRESS, (ConnectionSettings.TOKEN_FILE_PREF): TOKEN_FILE,
              (ConnectionSettings.TOKEN_PREF): TOKEN]
for (String key in values.keySet()) {
    PathPrefs.createPersistentPreference(key, "").set(values[key])
}
def stored = [:]
for (String key in values.keySet()) {
    stored[key] = PathPrefs.createPersistentPreference(key, "").get()
}
println ConnectionSettings.resolve(stored, System.getenv(), new File(System.getProperty("user.home")))
