package org.sambridge.ij;

import ij.ImagePlus;
import ij.gui.Roi;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What one SAMBridge step changed, to undo it: the label image's planes before the step, the ROIs
 * it added and removed, and, for a correction through an object handle, the handle, so that
 * "Undo last SAM step" also returns the server's object to its previous state.
 */
final class UndoStep {
    final Map<Integer, Object> planesBefore = new LinkedHashMap<>();
    final List<Roi> added = new ArrayList<>();
    final List<Roi> removed = new ArrayList<>();
    /** The object handle the step used, or null. */
    String handle;
    /** Content id and plane index the handle was used with. */
    String imageId;
    int index;

    /**
     * Remembers the label image's planes before the step.
     *
     * @param labels the label image
     * @param stackIndices 1-based stack indices the step will change
     */
    void snapshot(ImagePlus labels, Iterable<Integer> stackIndices) {
        for (int i : stackIndices) {
            if (!planesBefore.containsKey(i)) {
                Object pixels = labels.getStack().getPixels(i);
                planesBefore.put(i, pixels instanceof short[] ? ((short[]) pixels).clone() : pixels);
            }
        }
    }

    /**
     * Puts the remembered planes back.
     *
     * @param labels the label image
     */
    void restore(ImagePlus labels) {
        for (Map.Entry<Integer, Object> e : planesBefore.entrySet()) {
            if (e.getKey() <= labels.getStackSize()) {
                labels.getStack().setPixels(e.getValue(), e.getKey());
            }
        }
        labels.updateAndDraw();
    }
}
