package org.sambridge.ij;

import ij.Prefs;
import org.sambridge.client.LocalServer;

/**
 * The one local server this ImageJ started ("Start local server"), and the Python environment
 * setting it is started from (ImageJ preference {@code sambridge.python}, set in
 * Edit &gt; Options &gt; SAMBridge).
 */
final class LocalServerSession {
    /** Preference key of the Python environment (folder, python or sambridge-server script). */
    static final String PYTHON_PREF = "sambridge.python";
    private static LocalServer server;

    private LocalServerSession() {
    }

    /** @return the configured Python environment, or "" */
    static String python() {
        return Prefs.get(PYTHON_PREF, "");
    }

    /**
     * @param path the Python environment to remember ("" = find one)
     */
    static void setPython(String path) {
        Prefs.set(PYTHON_PREF, path);
        Prefs.savePreferences();
    }

    /** @return the running local server, or null */
    static synchronized LocalServer current() {
        if (server != null && !server.isAlive()) {
            server = null;
        }
        return server;
    }

    /**
     * @param started the new server (a running one is stopped first)
     */
    static synchronized void set(LocalServer started) {
        if (server != null && server != started) {
            server.stop();
        }
        server = started;
    }

    /** @return whether a server was running and has been stopped */
    static synchronized boolean stop() {
        if (server == null) {
            return false;
        }
        server.stop();
        server = null;
        return true;
    }
}
