package org.sambridge.ij;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;

import ij.ImagePlus;
import org.junit.Test;
import org.sambridge.client.LossCurve;
import org.sambridge.v1.TrainingProgress;

/** The loss curve becomes an ImageJ Plot (headless) titled after the model, marked with its points. */
public class LossPlotTest {
    @Test
    public void plotsEveryLossPoint() {
        LossCurve curve = new LossCurve();
        for (int s = 1; s <= 3; s++) {
            curve.add(TrainingProgress.newBuilder().setStep(s).putLosses("loss", 1.0 / s).setValMsa(Double.NaN)
                    .build());
        }
        curve.add(TrainingProgress.newBuilder().setStep(3).setValMsa(0.5).build());
        ImagePlus imp = LossPlot.image(LossPlot.of("SAMBridge loss m", curve), curve.size());
        assertNotNull(imp.getProcessor());
        assertEquals("SAMBridge loss m", imp.getTitle());
        assertEquals("3", imp.getProperty("sambridge_loss_points"));
    }
}
