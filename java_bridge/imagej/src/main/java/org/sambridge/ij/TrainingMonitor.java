package org.sambridge.ij;

import ij.IJ;
import ij.ImagePlus;
import ij.WindowManager;
import ij.gui.Plot;
import ij.gui.PlotWindow;
import ij.macro.Interpreter;
import java.util.Map;
import org.sambridge.client.LossCurve;
import org.sambridge.client.TrainingJobs;
import org.sambridge.v1.TrainingProgress;

/**
 * Follows a training job in ImageJ: status bar (epoch, step/total, losses, ETA), progress bar,
 * and the loss curve as a Plot window redrawn at most twice a second (in batch mode the plot
 * image is shown once, at the end). Esc cancels the job on the server.
 */
final class TrainingMonitor implements TrainingJobs.Listener {
    private final String title;
    private final LossCurve curve = new LossCurve();
    private PlotWindow window;
    private long lastDraw;

    /**
     * @param model the output model's name (in the plot's title)
     */
    TrainingMonitor(String model) {
        this.title = "SAMBridge loss " + model;
    }

    @Override
    public void onProgress(TrainingProgress p) {
        curve.add(p);
        StringBuilder losses = new StringBuilder();
        for (Map.Entry<String, Double> e : new java.util.TreeMap<>(p.getLossesMap()).entrySet()) {
            losses.append(' ').append(e.getKey()).append(String.format("=%.4f", e.getValue()));
        }
        IJ.showStatus("SAMBridge Finetune: epoch " + p.getEpoch() + ", step " + p.getStep() + "/"
                + p.getTotalSteps() + losses + String.format(", ETA %.0f s (Esc cancels)", p.getEtaS()));
        if (p.getTotalSteps() > 0) {
            IJ.showProgress((double) p.getStep() / p.getTotalSteps());
        }
        if (System.currentTimeMillis() - lastDraw > 500) {
            draw();
        }
    }

    @Override
    public boolean isCancelled() {
        return IJ.escapePressed();
    }

    /** @return the losses received */
    LossCurve curve() {
        return curve;
    }

    /** Shows or redraws the plot (batch mode: nothing until {@link #finish}). */
    private synchronized void draw() {
        lastDraw = System.currentTimeMillis();
        if (curve.size() == 0 || Interpreter.isBatchMode()) {
            return;
        }
        Plot plot = LossPlot.of(title, curve);
        if (window == null || window.isClosed()) {
            window = plot.show();
        } else {
            window.drawPlot(plot);
        }
        if (window != null) {
            window.getImagePlus().setProperty("sambridge_loss_points", Integer.toString(curve.size()));
        }
    }

    /** Draws the final curve; in batch mode shows it as an image for the macro. */
    synchronized void finish() {
        if (Interpreter.isBatchMode()) {
            ImagePlus old = WindowManager.getImage(title);
            ImagePlus imp = LossPlot.image(LossPlot.of(title, curve), curve.size());
            imp.setTitle(title);
            if (old != null) {
                old.close();
            }
            imp.show();
        } else {
            draw();
        }
    }
}
