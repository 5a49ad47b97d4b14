package org.sambridge.ij;

import ij.ImagePlus;
import ij.ImageStack;
import ij.WindowManager;
import ij.process.ShortProcessor;
import java.util.HashMap;
import java.util.Map;

/**
 * What SAMBridge keeps per source image: the next object id (names continue across calls and
 * stay unique per image, also after the label image was closed) and the one label image that
 * every result for this source is written into.
 */
public final class LabelTarget {
    private static final Map<Integer, LabelTarget> BY_SOURCE = new HashMap<>();
    private static final Map<Integer, Integer> SOURCE_OF_LABELS = new HashMap<>();

    /** Steps "Undo last SAM step" can take back, per source. */
    static final int UNDO_DEPTH = 20;

    private final ImagePlus source;
    private final java.util.Deque<UndoStep> undo = new java.util.ArrayDeque<>();
    private final Map<Integer, String> handles = new HashMap<>();
    private int nextId = 1;
    private ImagePlus labels;
    private boolean shown;

    private LabelTarget(ImagePlus source) {
        this.source = source;
    }

    /**
     * @param source a source image
     * @return its target (created on first use)
     */
    public static synchronized LabelTarget of(ImagePlus source) {
        return BY_SOURCE.computeIfAbsent(source.getID(), id -> new LabelTarget(source));
    }

    /**
     * The source image of a SAMBridge label image, if it is one and the source is still known.
     *
     * @param imp any image
     * @return the source, or null
     */
    public static synchronized ImagePlus sourceOf(ImagePlus imp) {
        if (imp == null) {
            return null;
        }
        Integer sourceId = SOURCE_OF_LABELS.get(imp.getID());
        LabelTarget target = sourceId == null ? null : BY_SOURCE.get(sourceId);
        return target == null ? null : target.source;
    }

    /** @return the source image */
    public ImagePlus source() {
        return source;
    }

    /**
     * Reserves the next object id.
     *
     * @return a new id, unique for this source
     */
    public synchronized int newId() {
        return nextId++;
    }

    /**
     * Records a step for "Undo last SAM step" (the oldest is dropped beyond {@link #UNDO_DEPTH}).
     *
     * @param step the step
     */
    public synchronized void pushUndo(UndoStep step) {
        undo.push(step);
        while (undo.size() > UNDO_DEPTH) {
            undo.removeLast();
        }
    }

    /** @return the last step, removed from the history, or null if there is none */
    public synchronized UndoStep popUndo() {
        return undo.poll();
    }

    /**
     * @param id an object id
     * @param handle its server-side object handle (corrections go through it)
     */
    public synchronized void setHandle(int id, String handle) {
        handles.put(id, handle);
    }

    /**
     * @param id an object id
     * @return its object handle, or null if it was not segmented through one
     */
    public synchronized String handleOf(int id) {
        return handles.get(id);
    }

    /** @return the id the next object will get */
    public synchronized int peekNextId() {
        return nextId;
    }

    /** @return the label image, or null before the first result or after it was closed */
    public synchronized ImagePlus labels() {
        if (labels != null && shown && labels.getWindow() == null
                && WindowManager.getImage(labels.getID()) == null) {
            forget();
        }
        return labels;
    }

    /** Forgets the label image (the next result creates a new one). */
    public synchronized void forget() {
        if (labels != null) {
            SOURCE_OF_LABELS.remove(labels.getID());
        }
        labels = null;
        shown = false;
    }

    /** Marks the label image as shown (from now on, closing it makes the next result create a new one). */
    public synchronized void markShown() {
        shown = true;
    }

    /** @return whether the label image has been shown */
    public synchronized boolean isShown() {
        return shown;
    }

    /**
     * The label image, created (16-bit, same z/t dimensions and calibration as the source, one
     * channel, glasbey-style LUT) if there is none.
     *
     * @return the label image
     */
    public synchronized ImagePlus labelsOrCreate() {
        ImagePlus current = labels();
        if (current != null) {
            return current;
        }
        int nz = Math.max(1, source.getNSlices());
        int nt = Math.max(1, source.getNFrames());
        if (nz * nt * Math.max(1, source.getNChannels()) != source.getStackSize()) {
            nz = source.getStackSize(); // unusual dimensions: one label plane per stack plane
            nt = 1;
        }
        ImageStack stack = new ImageStack(source.getWidth(), source.getHeight());
        for (int i = 0; i < nz * nt; i++) {
            stack.addSlice(null, new ShortProcessor(source.getWidth(), source.getHeight()));
        }
        ImagePlus imp = new ImagePlus(source.getShortTitle() + "-SAM-labels", stack);
        imp.setDimensions(1, nz, nt);
        imp.setOpenAsHyperStack(source.isHyperStack() && nz * nt > 1);
        imp.setCalibration(source.getCalibration());
        LabelLut.apply(imp, 0);
        labels = imp;
        SOURCE_OF_LABELS.put(imp.getID(), source.getID());
        return imp;
    }
}
