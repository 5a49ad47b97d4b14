package org.sambridge.client;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.util.Arrays;
import org.junit.Test;
import org.sambridge.v1.TrainingProgress;

/** Loss points per loss name; epoch ends (no losses) add the validation mSA only. */
public class LossCurveTest {
    private static TrainingProgress step(long step, double loss, double mask) {
        return TrainingProgress.newBuilder().setStep(step).putLosses("mask", mask).putLosses("loss", loss)
                .setValMsa(Double.NaN).build();
    }

    @Test
    public void gathersEachLossAgainstTheStep() {
        LossCurve curve = new LossCurve();
        assertTrue(curve.add(step(1, 0.9, 0.5)));
        assertTrue(curve.add(step(2, 0.7, 0.4)));
        assertFalse(curve.add(TrainingProgress.newBuilder().setStep(2).setValMsa(0.6).build()));
        assertEquals(Arrays.asList("loss", "mask"), curve.names());
        assertEquals(2, curve.size());
        assertArrayEquals(new double[][] {{1, 2}, {0.9, 0.7}}, curve.series("loss"));
        assertArrayEquals(new double[][] {{1, 2}, {0.5, 0.4}}, curve.series("mask"));
        assertArrayEquals(new double[][] {{2}, {0.6}}, curve.validation());
        assertArrayEquals(new double[][] {{}, {}}, curve.series("nope"));
    }

    @Test
    public void epochEndsWithoutValidationAddNothing() {
        LossCurve curve = new LossCurve();
        curve.add(TrainingProgress.newBuilder().setStep(3).setValMsa(Double.NaN).build());
        assertEquals(0, curve.size());
        assertEquals(0, curve.validation()[0].length);
    }
}
