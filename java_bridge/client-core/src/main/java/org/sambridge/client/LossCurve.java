package org.sambridge.client;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.sambridge.v1.TrainingProgress;

/**
 * The loss curves of a training job, gathered from its progress events: for every loss name
 * (e.g. "loss", "mask", "iou") the optimizer steps and values, plus the validation mSA per
 * epoch end. Progress events without losses (epoch ends) add no loss point.
 */
public final class LossCurve {
    private final Map<String, List<double[]>> losses = new LinkedHashMap<>();
    private final List<double[]> validation = new ArrayList<>();

    /**
     * @param progress one progress event
     * @return true if it added a loss point
     */
    public synchronized boolean add(TrainingProgress progress) {
        double step = progress.getStep();
        if (!Double.isNaN(progress.getValMsa()) && progress.getLossesCount() == 0) {
            validation.add(new double[] {step, progress.getValMsa()});
        }
        for (Map.Entry<String, Double> e : new java.util.TreeMap<>(progress.getLossesMap()).entrySet()) {
            losses.computeIfAbsent(e.getKey(), k -> new ArrayList<>()).add(new double[] {step, e.getValue()});
        }
        return progress.getLossesCount() > 0;
    }

    /** @return the loss names, "loss" first when present */
    public synchronized List<String> names() {
        List<String> names = new ArrayList<>(losses.keySet());
        if (names.remove("loss")) {
            names.add(0, "loss");
        }
        return names;
    }

    /**
     * @param name a loss name
     * @return {steps, values} of that loss (empty arrays if unknown)
     */
    public synchronized double[][] series(String name) {
        return split(losses.getOrDefault(name, Collections.emptyList()));
    }

    /** @return {steps, values} of the validation mSA */
    public synchronized double[][] validation() {
        return split(validation);
    }

    /** @return the number of loss points of the main loss */
    public synchronized int size() {
        List<String> names = names();
        return names.isEmpty() ? 0 : losses.get(names.get(0)).size();
    }

    private static double[][] split(List<double[]> points) {
        double[][] out = new double[2][points.size()];
        for (int i = 0; i < points.size(); i++) {
            out[0][i] = points.get(i)[0];
            out[1][i] = points.get(i)[1];
        }
        return out;
    }
}
