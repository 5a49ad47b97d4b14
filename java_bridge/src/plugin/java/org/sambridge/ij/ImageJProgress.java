package org.sambridge.ij;

import ij.IJ;
import org.sambridge.client.ProgressListener;

/** Shows server progress in ImageJ's status bar and progress bar; Esc cancels. */
public final class ImageJProgress implements ProgressListener {
    private final String command;

    /**
     * @param command command name shown in the status bar
     */
    public ImageJProgress(String command) {
        this.command = command;
    }

    @Override
    public void onProgress(String stage, long done, long total, String message) {
        IJ.showStatus("SAMBridge " + command + ": " + stage + (total > 0 ? " " + done + "/" + total : "")
                + (message == null || message.isEmpty() ? "" : " - " + message));
        if (total > 0) {
            IJ.showProgress((double) done / total);
        }
    }

    @Override
    public boolean isCancelled() {
        return IJ.escapePressed();
    }
}
