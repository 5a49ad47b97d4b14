package org.sambridge.ij;

import ij.gui.Roi;
import ij.plugin.frame.RoiManager;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/** Removes given ROIs from the ROI Manager (by identity) and finds an object's ROIs on a plane. */
final class RoiManagerEdits {
    private RoiManagerEdits() {
    }

    /**
     * @param manager the ROI Manager
     * @param rois ROIs to remove (those no longer in the manager are ignored)
     */
    static void remove(RoiManager manager, Collection<Roi> rois) {
        List<Integer> indices = new ArrayList<>();
        Roi[] present = manager.getRoisAsArray();
        for (Roi roi : rois) {
            int i = indexOf(present, roi);
            if (i >= 0 && !indices.contains(i)) {
                indices.add(i);
            }
        }
        indices.sort(java.util.Collections.reverseOrder());
        for (int i : indices) {
            manager.setSelectedIndexes(new int[] {i});
            manager.runCommand("Delete");
        }
    }

    /**
     * The ROI Manager may hold a copy of a ROI it was given: the same object, else the first ROI with
     * the same name, position and bounds.
     *
     * @param present the manager's ROIs
     * @param roi a ROI that was added
     * @return its index, or -1
     */
    static int indexOf(Roi[] present, Roi roi) {
        for (int i = 0; i < present.length; i++) {
            if (present[i] == roi) {
                return i;
            }
        }
        for (int i = 0; i < present.length; i++) {
            Roi p = present[i];
            if (java.util.Objects.equals(p.getName(), roi.getName()) && p.getBounds().equals(roi.getBounds())
                    && p.getPosition() == roi.getPosition() && p.getZPosition() == roi.getZPosition()
                    && p.getTPosition() == roi.getTPosition() && p.getCPosition() == roi.getCPosition()) {
                return i;
            }
        }
        return -1;
    }

    /**
     * @param manager the ROI Manager
     * @param name the object's name
     * @param czt the plane's (c, z, t)
     * @param stackSize the source's stack size (1: every ROI of that name is on the plane)
     * @return the object's ROIs on that plane
     */
    static List<Roi> onPlane(RoiManager manager, String name, int[] czt, int stackSize) {
        List<Roi> found = new ArrayList<>();
        for (Roi roi : manager.getRoisAsArray()) {
            if (!name.equals(roi.getName())) {
                continue;
            }
            boolean same = stackSize <= 1 || (roi.hasHyperStackPosition()
                    ? roi.getZPosition() == czt[1] && roi.getTPosition() == czt[2]
                    : roi.getPosition() == 0 || roi.getPosition() == Math.max(czt[1], czt[2]));
            if (same) {
                found.add(roi);
            }
        }
        return found;
    }
}
