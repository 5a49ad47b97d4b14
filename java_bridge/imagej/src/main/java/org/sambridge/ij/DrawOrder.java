package org.sambridge.ij;

import ij.ImagePlus;
import ij.gui.Roi;
import ij.gui.RoiListener;
import ij.gui.ShapeRoi;
import java.awt.Rectangle;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Remembers the order in which the parts of a composite selection were drawn. ImageJ merges a
 * shift-added part into a ShapeRoi (a java.awt.geom.Area), whose parts come back in geometric
 * order; this listener (registered by Connect) sees each change of an image's selection and
 * appends the parts that are new, by their bounds, so prompts keep the order drawn.
 */
final class DrawOrder implements RoiListener {
    private static final DrawOrder INSTANCE = new DrawOrder();
    private static boolean registered;
    private final Map<Integer, List<Rectangle>> orderByImage = new HashMap<>();

    /** Registers the listener once. */
    static synchronized void register() {
        if (!registered) {
            Roi.addRoiListener(INSTANCE);
            registered = true;
        }
    }

    /** @return the shared instance */
    static DrawOrder instance() {
        return INSTANCE;
    }

    @Override
    public void roiModified(ImagePlus imp, int id) {
        if (imp != null) {
            update(imp.getID(), imp.getRoi());
        }
    }

    /**
     * Records the parts of an image's current selection: parts seen before keep their place, new
     * parts are appended.
     *
     * @param imageId the image's id
     * @param roi its selection (null clears)
     */
    synchronized void update(int imageId, Roi roi) {
        List<Rectangle> before = orderByImage.getOrDefault(imageId, new ArrayList<>());
        List<Rectangle> parts = partsOf(roi);
        List<Rectangle> order = new ArrayList<>();
        for (Rectangle r : before) {
            if (parts.contains(r)) {
                order.add(r);
            }
        }
        for (Rectangle r : parts) {
            if (!order.contains(r)) {
                order.add(r);
            }
        }
        orderByImage.put(imageId, order);
    }

    /**
     * Sorts the parts of a composite selection into the order they were drawn (parts never seen
     * keep their relative order, after the known ones).
     *
     * @param imageId the image's id
     * @param parts the composite's parts (ShapeRoi.getRois())
     * @return the parts in drawing order
     */
    synchronized List<Roi> sort(int imageId, Roi[] parts) {
        List<Rectangle> order = orderByImage.getOrDefault(imageId, new ArrayList<>());
        List<Roi> sorted = new ArrayList<>();
        for (Rectangle r : order) {
            for (Roi part : parts) {
                if (part.getBounds().equals(r) && !sorted.contains(part)) {
                    sorted.add(part);
                    break;
                }
            }
        }
        for (Roi part : parts) {
            if (!sorted.contains(part)) {
                sorted.add(part);
            }
        }
        return sorted;
    }

    private static List<Rectangle> partsOf(Roi roi) {
        List<Rectangle> parts = new ArrayList<>();
        if (roi instanceof ShapeRoi) {
            for (Roi part : ((ShapeRoi) roi).getRois()) {
                parts.add(part.getBounds());
            }
        } else if (roi != null) {
            parts.add(roi.getBounds());
        }
        return parts;
    }
}
