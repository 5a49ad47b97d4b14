package org.sambridge.qupath;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;

/**
 * Where the QuPath scripts connect, without anything hard-coded: the address from QuPath's
 * preference {@code sambridge.address}, else {@code $SAMBRIDGE_ADDRESS}; the token from QuPath's
 * preference {@code sambridge.token}, else the file named by the preference
 * {@code sambridge.token_file}, else {@code $SAMBRIDGE_TOKEN}, else {@code ~/.sambridge/token}
 * (none: a server without token). {@code sam_configure.groovy} sets the preferences.
 */
public final class ConnectionSettings {
    /** QuPath preference names (PathPrefs.createPersistentPreference). */
    public static final String ADDRESS_PREF = "sambridge.address";
    /** The token itself (prefer the token file: preferences are stored in plain text). */
    public static final String TOKEN_PREF = "sambridge.token";
    /** A file whose first line is the token. */
    public static final String TOKEN_FILE_PREF = "sambridge.token_file";

    private final String address;
    private final String token;

    private ConnectionSettings(String address, String token) {
        this.address = address;
        this.token = token;
    }

    /**
     * @param prefs QuPath's values of the three preferences (missing or "" = unset)
     * @param env the environment
     * @param home the user's home folder
     * @return the settings
     * @throws IllegalStateException if no address is configured, or a named token file cannot be read
     */
    public static ConnectionSettings resolve(Map<String, String> prefs, Map<String, String> env, File home) {
        String address = firstSet(prefs.get(ADDRESS_PREF), env.get("SAMBRIDGE_ADDRESS"));
        if (address == null) {
            throw new IllegalStateException("no SAMBridge server address: run sam_configure.groovy once, or set "
                    + "$SAMBRIDGE_ADDRESS (host:port)");
        }
        String token = firstSet(prefs.get(TOKEN_PREF), null);
        String tokenFile = firstSet(prefs.get(TOKEN_FILE_PREF), null);
        if (token == null && tokenFile != null) {
            token = firstLine(new File(tokenFile));
            if (token == null) {
                throw new IllegalStateException("cannot read the token file " + tokenFile);
            }
        }
        if (token == null) {
            token = firstSet(env.get("SAMBRIDGE_TOKEN"), null);
        }
        if (token == null) {
            String fromDefault = firstLine(new File(home, ".sambridge/token"));
            token = fromDefault == null ? "" : fromDefault;
        }
        return new ConnectionSettings(address, token);
    }

    /** @return "host:port" */
    public String address() {
        return address;
    }

    /** @return the token ("" = none) */
    public String token() {
        return token;
    }

    @Override
    public String toString() {
        return "SAMBridge server " + address + (token.isEmpty() ? " (no token)" : " (token set)");
    }

    private static String firstSet(String a, String b) {
        if (a != null && !a.trim().isEmpty()) {
            return a.trim();
        }
        return b != null && !b.trim().isEmpty() ? b.trim() : null;
    }

    private static String firstLine(File file) {
        if (!file.isFile()) {
            return null;
        }
        try {
            List<String> lines = Files.readAllLines(file.toPath(), StandardCharsets.UTF_8);
            return lines.isEmpty() ? "" : lines.get(0).trim();
        } catch (IOException e) {
            return null;
        }
    }
}
