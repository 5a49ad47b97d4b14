package org.sambridge.ij;

import ij.IJ;
import ij.ImagePlus;
import ij.gui.Roi;
import ij.plugin.frame.RoiManager;
import ij.process.ImageProcessor;
import java.util.Collections;
import java.util.List;
import org.sambridge.client.MaskCodec;
import org.sambridge.client.SamBridgeClient;
import org.sambridge.client.SegmentResult;
import org.sambridge.ij.convert.RoiConverter;
import org.sambridge.v1.Point;

/**
 * Points on an existing SAM object correct it through its object handle: the server adds the
 * clicks to the object's earlier prompts and decodes it with its previous logits; the object keeps
 * its name, its pixels and ROI on that plane are replaced, and the step can be undone.
 */
final class ObjectCorrection {
    private ObjectCorrection() {
    }

    /**
     * @param target the source's target
     * @param points the selection's points
     * @param index the 0-based plane
     * @return the id of the first object with a handle under a point, or 0
     */
    static int objectUnder(LabelTarget target, List<Point> points, int index) {
        ImagePlus labels = target.labels();
        if (labels == null || points.isEmpty()) {
            return 0;
        }
        int[] czt = ResultPublisher.position(target.source(), index);
        ImageProcessor ip = labels.getStack().getProcessor(ResultPublisher.stackIndex(labels, czt));
        for (Point p : points) {
            int x = (int) Math.round(p.getX());
            int y = (int) Math.round(p.getY());
            if (x >= 0 && y >= 0 && x < ip.getWidth() && y < ip.getHeight()) {
                int id = (int) ip.getf(x, y);
                if (id > 0 && target.handleOf(id) != null) {
                    return id;
                }
            }
        }
        return 0;
    }

    /**
     * Sends the points through the object's handle and puts the corrected mask in place.
     *
     * @param source the source image
     * @param client the client
     * @param imageId the source's content id
     * @param index the 0-based plane
     * @param id the object's id
     * @param points this correction's clicks
     */
    static void correct(ImagePlus source, SamBridgeClient client, String imageId, int index, int id,
            List<Point> points) {
        LabelTarget target = LabelTarget.of(source);
        String handle = target.handleOf(id);
        SegmentResult result = client.segmentObject(imageId, index, handle, points, null);
        UndoStep step = new UndoStep();
        step.handle = handle;
        step.imageId = imageId;
        step.index = index;
        replace(target, id, index, MaskCodec.unpack(result.masks().get(0)),
                result.raw().getScoresCount() > 0 ? result.score(0) : Float.NaN, step);
        target.pushUndo(step);
        IJ.log("SAMBridge: corrected " + ResultPublisher.name(id) + " with " + points.size() + " point(s)");
    }

    /**
     * Replaces an object's pixels and ROIs on one plane by a mask (recorded in the step).
     *
     * @param target the source's target
     * @param id the object's id
     * @param index the 0-based plane
     * @param mask the new mask ("yx")
     * @param score its score, or NaN
     * @param step the undo step to record the change in
     */
    static void replace(LabelTarget target, int id, int index, boolean[][] mask, float score, UndoStep step) {
        ImagePlus source = target.source();
        ImagePlus labels = target.labelsOrCreate();
        int[] czt = ResultPublisher.position(source, index);
        int stackIndex = ResultPublisher.stackIndex(labels, czt);
        step.snapshot(labels, Collections.singletonList(stackIndex));
        ImageProcessor ip = labels.getStack().getProcessor(stackIndex);
        for (int y = 0; y < ip.getHeight(); y++) {
            for (int x = 0; x < ip.getWidth(); x++) {
                boolean on = y < mask.length && x < mask[y].length && mask[y][x];
                if (on) {
                    ip.setf(x, y, id);
                } else if ((int) ip.getf(x, y) == id) {
                    ip.setf(x, y, 0);
                }
            }
        }
        labels.updateAndDraw();
        RoiManager manager = ResultPublisher.roiManager();
        String name = ResultPublisher.name(id);
        List<Roi> old = RoiManagerEdits.onPlane(manager, name, czt, source.getStackSize());
        RoiManagerEdits.remove(manager, old);
        step.removed.addAll(old);
        Roi roi = RoiConverter.maskToRoi(mask);
        if (roi != null) {
            roi.setName(name);
            roi.setProperty("sam_object", Integer.toString(id));
            if (!Float.isNaN(score)) {
                roi.setProperty("sam_score", Float.toString(score));
            }
            ResultPublisher.setPosition(roi, source, czt);
            manager.addRoi(roi);
            step.added.add(roi);
        }
    }
}
