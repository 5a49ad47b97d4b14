package org.sambridge.ij;

import ij.ImagePlus;
import ij.gui.Plot;
import java.awt.Color;
import java.util.List;
import org.sambridge.client.LossCurve;

/**
 * The loss curve of a training job as an ImageJ Plot: one line per loss (main loss black) and
 * the validation mSA as points, against the optimizer step. Built headless; {@link TrainingMonitor}
 * shows and redraws it.
 */
final class LossPlot {
    private static final Color[] COLORS = {Color.BLACK, Color.BLUE, Color.RED, new Color(0, 140, 0),
        Color.MAGENTA, Color.ORANGE};

    private LossPlot() {
    }

    /**
     * @param title plot title
     * @param curve the losses so far
     * @return the plot
     */
    static Plot of(String title, LossCurve curve) {
        Plot plot = new Plot(title, "step", "loss / validation mSA");
        List<String> names = curve.names();
        StringBuilder legend = new StringBuilder();
        for (int i = 0; i < names.size(); i++) {
            double[][] s = curve.series(names.get(i));
            plot.setColor(COLORS[i % COLORS.length]);
            plot.add("connected circle", s[0], s[1]);
            legend.append(i == 0 ? "" : "\t").append(names.get(i));
        }
        double[][] val = curve.validation();
        if (val[0].length > 0) {
            plot.setColor(Color.GRAY);
            plot.add("x", val[0], val[1]);
            legend.append(legend.length() == 0 ? "" : "\t").append("val mSA");
        }
        if (legend.length() > 0) {
            plot.addLegend(legend.toString());
        }
        plot.setLimitsToFit(false);
        return plot;
    }

    /**
     * @param plot a plot
     * @param points the number of loss points it shows
     * @return its image, marked with the number of points (property "sambridge_loss_points")
     */
    static ImagePlus image(Plot plot, int points) {
        ImagePlus imp = plot.getImagePlus();
        imp.setProperty("sambridge_loss_points", Integer.toString(points));
        return imp;
    }
}
