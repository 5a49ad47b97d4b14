package org.sambridge.qupath;

import java.io.PrintStream;
import org.sambridge.client.ProgressListener;

/**
 * Server progress printed line by line (QuPath's script log shows stdout). A class, not a Groovy
 * closure coerced with {@code as ProgressListener}, so the scripts run on Groovy 2.4 too.
 */
public final class ConsoleProgress implements ProgressListener {
    private final String prefix;
    private final PrintStream out;

    /**
     * @param prefix text before every line, e.g. "SAMBridge"
     */
    public ConsoleProgress(String prefix) {
        this(prefix, System.out);
    }

    /**
     * @param prefix text before every line
     * @param out where lines go
     */
    public ConsoleProgress(String prefix, PrintStream out) {
        this.prefix = prefix;
        this.out = out;
    }

    @Override
    public void onProgress(String stage, long done, long total, String message) {
        out.println(prefix + " " + stage + (total > 0 ? " " + done + "/" + total : "")
                + (message == null || message.isEmpty() ? "" : " " + message));
    }
}
