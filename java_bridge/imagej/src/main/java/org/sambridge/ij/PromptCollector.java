package org.sambridge.ij;

import ij.IJ;
import ij.gui.PointRoi;
import ij.gui.Roi;
import ij.gui.ShapeRoi;
import java.awt.Polygon;
import java.awt.Rectangle;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.sambridge.client.Prompts;
import org.sambridge.v1.Box;
import org.sambridge.v1.Point;

/**
 * Turns an ImageJ selection into prompts: points of (multi-)point selections,
 * rectangles as boxes, the parts of composite selections in the order they were drawn
 * ({@link DrawOrder}; objects are numbered points first, then boxes, each in that order);
 * line, polyline and freehand-line selections become {@link #LINE_POINTS} points evenly spaced
 * along the line, and other areas their bounding box, until the server has scribble prompts. Points are negative
 * (background) when the selection's name starts with "neg", when they carry
 * multi-point counter 1, or when Alt is held while the command runs.
 */
public final class PromptCollector {
    private final List<Point> positives = new ArrayList<>();
    private final List<Point> negatives = new ArrayList<>();
    private final List<Box> boxes = new ArrayList<>();

    /**
     * @param roi the selection (null gives no prompts)
     * @param altDown treat all points as negative
     * @return the collected prompts
     */
    public static PromptCollector collect(Roi roi, boolean altDown) {
        PromptCollector prompts = new PromptCollector();
        if (roi != null) {
            ij.ImagePlus imp = roi.getImage();
            prompts.imageId = imp == null ? 0 : imp.getID();
            prompts.add(roi, altDown || isNegativeName(roi.getName()));
        }
        return prompts;
    }

    /** The image whose drawing order sorts composite parts (0 = none known). */
    private int imageId;

    /** @return collect(selection, IJ.altKeyDown()) */
    static PromptCollector collect(Roi roi) {
        return collect(roi, IJ.altKeyDown());
    }

    private void add(Roi roi, boolean negative) {
        if (roi instanceof PointRoi) {
            addPoints((PointRoi) roi, negative);
        } else if (roi instanceof ShapeRoi) {
            for (Roi part : DrawOrder.instance().sort(imageId, ((ShapeRoi) roi).getRois())) {
                add(part, negative || isNegativeName(part.getName()));
            }
        } else if (roi.getType() == Roi.RECTANGLE) {
            Rectangle r = roi.getBounds();
            boxes.add(Prompts.box(r.x, r.y, r.x + r.width, r.y + r.height));
        } else if (roi.isArea()) {
            Rectangle r = roi.getBounds(); // other areas (freehand, ovals, polygons): their bounding box
            boxes.add(Prompts.box(r.x, r.y, r.x + r.width, r.y + r.height));
        } else if (roi.isLine()) {
            addLinePoints(roi, negative);
        }
    }

    /** Points sampled along a line, polyline or freehand line (until the server takes scribbles). */
    private void addLinePoints(Roi roi, boolean negative) {
        java.awt.geom.Point2D.Double[] points = LineSampler.sample(roi.getFloatPolygon(), LINE_POINTS);
        for (java.awt.geom.Point2D.Double p : points) {
            (negative ? negatives : positives).add(Prompts.point((int) Math.round(p.x), (int) Math.round(p.y),
                    !negative));
        }
    }

    /** How many points a line selection becomes. */
    static final int LINE_POINTS = 8;

    private void addPoints(PointRoi roi, boolean negative) {
        Polygon p = roi.getPolygon();
        int[] counters = roi.getCounters();
        for (int i = 0; i < p.npoints; i++) {
            boolean neg = negative || (counters != null && i < counters.length && (counters[i] & 0xff) == 1);
            // pixel indices, as numpy/napari clients send them
            (neg ? negatives : positives).add(Prompts.point(p.xpoints[i], p.ypoints[i], !neg));
        }
    }

    private static boolean isNegativeName(String name) {
        return name != null && name.toLowerCase().startsWith("neg");
    }

    /** @return positive points */
    public List<Point> positives() {
        return Collections.unmodifiableList(positives);
    }

    /** @return negative points */
    public List<Point> negatives() {
        return Collections.unmodifiableList(negatives);
    }

    /** @return boxes */
    public List<Box> boxes() {
        return Collections.unmodifiableList(boxes);
    }

    /** @return all points, positives then negatives (labels set) */
    public List<Point> allPoints() {
        List<Point> all = new ArrayList<>(positives);
        all.addAll(negatives);
        return all;
    }

    /** @return true if there is no prompt at all */
    public boolean isEmpty() {
        return positives.isEmpty() && negatives.isEmpty() && boxes.isEmpty();
    }
}
