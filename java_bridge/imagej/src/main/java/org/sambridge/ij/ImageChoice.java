package org.sambridge.ij;

import ij.ImagePlus;
import ij.WindowManager;
import java.util.ArrayList;
import java.util.List;

/** Open images by title, for dialog choices such as a label image. */
final class ImageChoice {
    private ImageChoice() {
    }

    /** @return the titles of all open images (batch-mode ones included) */
    static String[] titles() {
        int[] ids = WindowManager.getIDList();
        List<String> titles = new ArrayList<>();
        for (int id : ids == null ? new int[0] : ids) {
            ImagePlus imp = WindowManager.getImage(id);
            if (imp != null) {
                titles.add(imp.getTitle());
            }
        }
        return titles.isEmpty() ? new String[] {"(none)"} : titles.toArray(new String[0]);
    }

    /**
     * @param source the source image
     * @return the title of the source's SAM label image if open, else the first open title
     */
    static String defaultLabels(ImagePlus source) {
        ImagePlus labels = LabelTarget.of(source).labels();
        return labels != null ? labels.getTitle() : titles()[0];
    }

    /**
     * @param title an image title
     * @return the image
     * @throws IllegalArgumentException if none is open under that title
     */
    static ImagePlus require(String title) {
        ImagePlus imp = WindowManager.getImage(title);
        if (imp == null) {
            throw new IllegalArgumentException("no open image is called \"" + title + "\"");
        }
        return imp;
    }
}
