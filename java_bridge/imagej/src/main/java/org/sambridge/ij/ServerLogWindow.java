package org.sambridge.ij;

import ij.text.TextWindow;
import java.awt.GraphicsEnvironment;
import java.awt.EventQueue;

/**
 * The local server's log in a text window ("SAMBridge server log"); headless, lines go to stdout.
 * Lines are appended on the event thread.
 */
final class ServerLogWindow {
    static final String TITLE = "SAMBridge server log";
    private TextWindow window;

    /**
     * @param line a line of the server's output
     */
    void append(String line) {
        if (GraphicsEnvironment.isHeadless()) {
            System.out.println("[sambridge-server] " + line);
            return;
        }
        EventQueue.invokeLater(() -> {
            if (window == null || !window.isShowing()) {
                window = new TextWindow(TITLE, "", 640, 300);
            }
            window.append(line);
        });
    }
}
