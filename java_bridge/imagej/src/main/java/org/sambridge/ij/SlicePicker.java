package org.sambridge.ij;

import java.util.ArrayList;
import java.util.List;
import org.sambridge.client.LabelImage;
import org.sambridge.client.LabelResult;
import org.sambridge.v1.ObjectInfo;

/** Extracts one plane of a 3D label result (e.g. the segmented slice of a stack). */
final class SlicePicker {
    private SlicePicker() {
    }

    /**
     * @param result a 3D result
     * @param plane 0-based plane
     * @return a 2D result holding that plane and its objects
     */
    static LabelResult plane(LabelResult result, int plane) {
        LabelImage all = result.labels();
        int n = all.width() * all.height();
        int[] labels = new int[n];
        System.arraycopy(all.labels(), plane * n, labels, 0, n);
        List<ObjectInfo> objects = new ArrayList<>();
        for (ObjectInfo info : result.objects()) {
            if (info.getIndex() == plane) {
                objects.add(info);
            }
        }
        return new LabelResult(new LabelImage(labels, 1, all.height(), all.width(), "yx"),
                objects.isEmpty() ? result.objects() : objects, result.raw());
    }
}
