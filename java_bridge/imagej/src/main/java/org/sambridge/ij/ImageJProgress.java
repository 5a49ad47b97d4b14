package org.sambridge.ij;

import ij.IJ;
import org.sambridge.client.ProgressListener;

/**
 * Shows server progress in ImageJ's status bar and progress bar, with the elapsed time updated
 * every second also while the server sends nothing; Esc cancels the call at once (a watcher
 * thread polls it, see ProgressListener#isCancelled).
 */
public final class ImageJProgress implements ProgressListener {
    private final String command;
    private volatile String last = "waiting for the server";

    /**
     * @param command command name shown in the status bar
     */
    public ImageJProgress(String command) {
        this.command = command;
    }

    @Override
    public void onProgress(String stage, long done, long total, String message) {
        last = stage + (total > 0 ? " " + done + "/" + total : "")
                + (message == null || message.isEmpty() ? "" : " - " + message);
        IJ.showStatus("SAMBridge " + command + ": " + last);
        if (total > 0) {
            IJ.showProgress((double) done / total);
        }
    }

    @Override
    public void onTick(long elapsedMs) {
        IJ.showStatus("SAMBridge " + command + ": " + last + " (" + elapsedMs / 1000 + " s, Esc cancels)");
    }

    @Override
    public boolean isCancelled() {
        return IJ.escapePressed();
    }
}
