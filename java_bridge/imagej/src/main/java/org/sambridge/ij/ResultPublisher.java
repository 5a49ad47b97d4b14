package org.sambridge.ij;

import ij.IJ;
import ij.ImagePlus;
import ij.ImageStack;
import ij.WindowManager;
import ij.gui.ImageWindow;
import ij.gui.Roi;
import ij.macro.Interpreter;
import ij.plugin.frame.RoiManager;
import ij.process.ImageProcessor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.sambridge.client.LabelImage;
import org.sambridge.client.LabelResult;
import org.sambridge.ij.convert.RoiConverter;

/**
 * Puts results into ImageJ, in place: every object gets a new id, unique per source image and
 * continuing across calls (names "SAM-0001", ...); its ROIs (one per plane, holes and parts
 * kept, all with the object's name and property {@code sam_object}) go to the ROI Manager with
 * their full position (c, z, t on hyperstacks, so "Show All" draws each frame's outlines on its
 * own frame); its pixels go into the one label image of the source, which is created once,
 * updated on every call and never keeps the focus: the source stays the active image.
 */
public final class ResultPublisher {
    private ResultPublisher() {
    }

    /** What one call added. */
    public static final class Published {
        /** ROIs, object by object, plane by plane. */
        public final List<Roi> rois;
        /** Result label -&gt; new object id, in the result's label order. */
        public final Map<Integer, Integer> ids;

        Published(List<Roi> rois, Map<Integer, Integer> ids) {
            this.rois = Collections.unmodifiableList(rois);
            this.ids = Collections.unmodifiableMap(ids);
        }

        /** @return the number of objects (not ROIs) */
        public int objects() {
            return ids.size();
        }

        /**
         * @param resultLabel a label of the server's result
         * @return its name, e.g. "SAM-0012", or null if it has no pixels
         */
        public String nameOf(int resultLabel) {
            Integer id = ids.get(resultLabel);
            return id == null ? null : name(id);
        }
    }

    /**
     * @param id object id
     * @return its ROI name
     */
    public static String name(int id) {
        return String.format("SAM-%04d", id);
    }

    /**
     * Adds a result: ROIs to the ROI Manager, pixels to the source's label image (shown, the
     * source kept active).
     *
     * @param source the image the labels belong to
     * @param result the server's result
     * @param plane for a 2D result on a stack: the 0-based slice or frame it belongs to; -1 otherwise
     * @param replace clear the planes the result covers first (automatic segmentation, tracking)
     * @param what short description for the log, e.g. "Segment all"
     * @return what was added
     */
    public static Published publish(ImagePlus source, LabelResult result, int plane, boolean replace, String what) {
        return publish(source, result, plane, replace, what, BridgeSession.stackAxis(source));
    }

    /**
     * As {@link #publish(ImagePlus, LabelResult, int, boolean, String)}, with the axis the
     * result's planes run along: "z" for a z stack of the displayed frame of a hyperstack with
     * slices and frames (Propagate in 3D), "t" for a time series of the displayed slice (Track).
     */
    public static Published publish(ImagePlus source, LabelResult result, int plane, boolean replace, String what,
            String axis) {
        LabelTarget target = LabelTarget.of(source);
        ImagePlus labels = target.labelsOrCreate();
        UndoStep step = new UndoStep();
        step.snapshot(labels, stackIndices(target, result.labels().depth(), plane, axis));
        Published published = place(target, result, plane, replace, axis);
        RoiManager manager = roiManager();
        for (Roi roi : published.rois) {
            manager.addRoi(roi);
        }
        step.added.addAll(published.rois);
        target.pushUndo(step);
        if (!target.isShown()) {
            labels.show();
            target.markShown();
        } else {
            labels.updateAndDraw();
        }
        keepActive(source);
        StringBuilder names = new StringBuilder();
        for (int id : published.ids.values()) {
            names.append(names.length() == 0 ? "" : ", ").append(name(id));
        }
        IJ.log("SAMBridge " + what + ": " + published.objects() + " object(s)"
                + (published.rois.size() != published.objects() ? " in " + published.rois.size() + " ROIs" : "")
                + (names.length() > 0 && published.objects() <= 20 ? " (" + names + ")" : "")
                + " -> ROI Manager and " + labels.getTitle());
        IJ.showStatus("SAMBridge " + what + ": " + published.objects() + " object(s)");
        return published;
    }

    /**
     * Writes a result into the target's label image (created if needed) and makes its ROIs; no
     * GUI, so it can be tested headless.
     *
     * @param target the source's target
     * @param result the server's result
     * @param plane for a 2D result on a stack: the 0-based slice or frame; -1 for the displayed one
     * @param replace clear the covered planes first
     * @return the ROIs and the id of each result label
     */
    public static Published place(LabelTarget target, LabelResult result, int plane, boolean replace) {
        return place(target, result, plane, replace, BridgeSession.stackAxis(target.source()));
    }

    /**
     * As {@link #place(LabelTarget, LabelResult, int, boolean)}, the planes running along {@code axis}
     * ("z" or "t") at the displayed position of the other axis.
     */
    public static Published place(LabelTarget target, LabelResult result, int plane, boolean replace, String axis) {
        ImagePlus source = target.source();
        LabelImage labels = result.labels();
        if (labels.width() != source.getWidth() || labels.height() != source.getHeight()) {
            throw new IllegalStateException("the result is " + labels.width() + "x" + labels.height()
                    + " but the image is " + source.getWidth() + "x" + source.getHeight());
        }
        ImagePlus labelImage = target.labelsOrCreate();
        ImageStack stack = labelImage.getStack();
        int depth = labels.depth();
        int[][] czt = new int[depth][];
        for (int i = 0; i < depth; i++) {
            int p = depth > 1 ? i : plane >= 0 ? plane : currentIndex(source, axis);
            czt[i] = position(source, p, axis);
            if (replace) {
                stack.getProcessor(stackIndex(labelImage, czt[i])).setValue(0);
                stack.getProcessor(stackIndex(labelImage, czt[i])).fill();
            }
        }
        TreeSet<Integer> present = new TreeSet<>();
        for (int v : labels.labels()) {
            if (v != 0) {
                present.add(v);
            }
        }
        Map<Integer, Integer> ids = new LinkedHashMap<>();
        for (int label : present) {
            ids.put(label, target.newId());
        }
        int n = labels.width() * labels.height();
        int maxId = 0;
        for (int i = 0; i < depth; i++) {
            ImageProcessor ip = stack.getProcessor(stackIndex(labelImage, czt[i]));
            for (int k = 0; k < n; k++) {
                int v = labels.labels()[i * n + k];
                if (v != 0) {
                    ip.setf(k, ids.get(v));
                }
            }
        }
        for (int id : ids.values()) {
            maxId = Math.max(maxId, id);
        }
        List<Roi> rois = new ArrayList<>();
        Map<Integer, List<Roi>> byObject = new LinkedHashMap<>();
        for (int id : ids.values()) {
            byObject.put(id, new ArrayList<>());
        }
        for (int i = 0; i < depth; i++) {
            for (Roi roi : RoiConverter.labelsToRois(labels, i)) {
                int label = labelOf(roi);
                int id = ids.get(label);
                roi.setName(name(id));
                roi.setProperty("sam_object", Integer.toString(id));
                float score = result.scoreOf(label);
                if (!Float.isNaN(score)) {
                    roi.setProperty("sam_score", Float.toString(score));
                }
                setPosition(roi, source, czt[i]);
                byObject.get(id).add(roi);
            }
        }
        for (List<Roi> group : byObject.values()) {
            rois.addAll(group);
        }
        double max = Math.max(255, Math.max(maxId, labelImage.getDisplayRangeMax()));
        labelImage.setDisplayRange(0, max);
        return new Published(rois, ids);
    }

    /** The 1-based label stack indices a result of {@code depth} planes will write. */
    static List<Integer> stackIndices(LabelTarget target, int depth, int plane, String axis) {
        ImagePlus source = target.source();
        ImagePlus labels = target.labelsOrCreate();
        List<Integer> indices = new ArrayList<>();
        for (int i = 0; i < depth; i++) {
            int p = depth > 1 ? i : plane >= 0 ? plane : currentIndex(source, axis);
            indices.add(stackIndex(labels, position(source, p, axis)));
        }
        return indices;
    }

    /**
     * The (c, z, t) of a plane of the source: c = 0 (all channels) when there are several,
     * the plane along the stack axis (z, or t for time series), the displayed value of the other.
     */
    static int[] position(ImagePlus source, int plane) {
        return position(source, plane, BridgeSession.stackAxis(source));
    }

    /**
     * The (c, z, t) of plane {@code plane} along {@code axis}; on a hyperstack with slices and
     * frames the other axis stays at its displayed position (a track runs over t at the displayed
     * slice, a propagation over z at the displayed frame). An axis the source has no planes along
     * falls back to the other one (a plain stack taken as time).
     */
    static int[] position(ImagePlus source, int plane, String axis) {
        int c = source.getNChannels() > 1 ? 0 : 1;
        if (source.getStackSize() <= 1) {
            return new int[] {c, 1, 1};
        }
        if (overT(source, axis)) {
            return new int[] {c, source.getZ(), plane + 1};
        }
        return new int[] {c, plane + 1, source.getT()};
    }

    /**
     * The full (c, z, t) position wherever ImageJ draws it on the right plane: hyperstacks, and
     * any single-channel stack (ImageCanvas maps a (1, 1, t) or (1, z, 1) position to the plain
     * index of a non-hyperstack); a multi-channel plain stack gets its stack index. 2D: none.
     */
    static void setPosition(Roi roi, ImagePlus source, int[] czt) {
        if (source.getStackSize() <= 1) {
            return;
        }
        if (source.isHyperStack() || source.getNChannels() == 1) {
            roi.setPosition(czt[0], czt[1], czt[2]);
        } else {
            roi.setPosition(source.getStackIndex(1, czt[1], czt[2]));
        }
    }

    private static boolean overT(ImagePlus source, String axis) {
        return "t".equals(axis) ? source.getNFrames() > 1 : source.getNSlices() <= 1 && source.getNFrames() > 1;
    }

    private static int currentIndex(ImagePlus source, String axis) {
        return overT(source, axis) ? source.getT() - 1 : source.getZ() - 1;
    }

    static int stackIndex(ImagePlus labelImage, int[] czt) {
        int index = labelImage.getStackIndex(1, czt[1], czt[2]);
        return Math.max(1, Math.min(labelImage.getStackSize(), index));
    }

    /** Makes the source the active image again (the macro's current image in batch mode). */
    static void keepActive(ImagePlus source) {
        if (Interpreter.isBatchMode()) {
            WindowManager.setTempCurrentImage(source);
            return;
        }
        ImageWindow window = source.getWindow();
        if (window == null) {
            WindowManager.setTempCurrentImage(source);
            return;
        }
        // A label window shown just now takes the focus a moment later, from the event queue:
        // re-assert the source until the queued activations have run (at most ~1 s).
        for (int attempt = 0; attempt < 20; attempt++) {
            WindowManager.setCurrentWindow(window);
            WindowManager.toFront(window);
            flushEvents();
            IJ.wait(50);
            flushEvents();
            if (WindowManager.getCurrentImage() == source) {
                return;
            }
        }
    }

    /** Lets the AWT event queue run what is pending (no-op on the event thread itself). */
    private static void flushEvents() {
        if (java.awt.EventQueue.isDispatchThread()) {
            return;
        }
        try {
            java.awt.EventQueue.invokeAndWait(() -> { });
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (java.lang.reflect.InvocationTargetException e) {
            // a no-op cannot throw
        }
    }

    /**
     * The ROI Manager a macro sees: the hidden batch-mode one while a batch-mode
     * macro runs (so roiManager("save", ...) finds our ROIs), else the window.
     *
     * @return the ROI Manager
     */
    static RoiManager roiManager() {
        if (Interpreter.isBatchMode()) {
            RoiManager batch = Interpreter.getBatchModeRoiManager();
            if (batch != null) {
                return batch;
            }
        }
        return RoiManager.getRoiManager();
    }

    static int labelOf(Roi roi) {
        String name = roi.getName();
        return Integer.parseInt(name.substring(name.lastIndexOf('-') + 1));
    }
}
