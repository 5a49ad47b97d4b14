package org.sambridge.client;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** Outlines of every object of a label image plane, one polygon list per label. */
public final class LabelContours {
    private LabelContours() {
    }

    /**
     * Traces every label of one plane.
     *
     * @param labels the label image
     * @param plane plane index (0 for 2D)
     * @return label -&gt; its parts (with holes), in image pixel-corner coordinates, sorted by label
     */
    public static Map<Integer, List<MaskPolygon>> trace(LabelImage labels, int plane) {
        Map<Integer, int[]> boxes = boundingBoxes(labels, plane);
        Map<Integer, List<MaskPolygon>> result = new TreeMap<>();
        for (Map.Entry<Integer, int[]> entry : boxes.entrySet()) {
            int label = entry.getKey();
            int[] box = entry.getValue(); // x0, y0, x1, y1 inclusive
            List<MaskPolygon> parts = ContourTracer.trace(box[2] - box[0] + 1, box[3] - box[1] + 1,
                    (x, y) -> labels.get(plane, y + box[1], x + box[0]) == label);
            for (MaskPolygon part : parts) {
                shift(part.exterior(), box[0], box[1]);
                for (int[] hole : part.holes()) {
                    shift(hole, box[0], box[1]);
                }
            }
            result.put(label, parts);
        }
        return result;
    }

    /**
     * Bounding boxes of all non-zero labels of a plane.
     *
     * @param labels the label image
     * @param plane plane index
     * @return label -&gt; {x0, y0, x1, y1} (inclusive)
     */
    public static Map<Integer, int[]> boundingBoxes(LabelImage labels, int plane) {
        Map<Integer, int[]> boxes = new TreeMap<>();
        for (int y = 0; y < labels.height(); y++) {
            for (int x = 0; x < labels.width(); x++) {
                int label = labels.get(plane, y, x);
                if (label == 0) {
                    continue;
                }
                int[] box = boxes.get(label);
                if (box == null) {
                    boxes.put(label, new int[] {x, y, x, y});
                } else {
                    box[0] = Math.min(box[0], x);
                    box[1] = Math.min(box[1], y);
                    box[2] = Math.max(box[2], x);
                    box[3] = Math.max(box[3], y);
                }
            }
        }
        return boxes;
    }

    private static void shift(int[] ring, int dx, int dy) {
        for (int i = 0; i < ring.length; i += 2) {
            ring[i] += dx;
            ring[i + 1] += dy;
        }
    }
}
