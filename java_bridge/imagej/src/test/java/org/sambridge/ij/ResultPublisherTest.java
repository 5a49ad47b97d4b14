package org.sambridge.ij;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.assertTrue;

import ij.ImagePlus;
import ij.ImageStack;
import ij.gui.Roi;
import ij.process.ByteProcessor;
import ij.process.LUT;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.Test;
import org.sambridge.client.LabelImage;
import org.sambridge.client.LabelResult;
import org.sambridge.v1.ObjectInfo;

/** Results in place: names continue, one label image per source, 3D objects and tracks are named groups with full positions. */
public class ResultPublisherTest {
    private static final int W = 24;
    private static final int H = 20;

    private static ImagePlus source(int nz, int nt, boolean hyperstack) {
        ImageStack stack = new ImageStack(W, H);
        for (int i = 0; i < nz * nt; i++) {
            stack.addSlice(null, new ByteProcessor(W, H));
        }
        ImagePlus imp = new ImagePlus("cells.tif", stack);
        imp.setDimensions(1, nz, nt);
        imp.setOpenAsHyperStack(hyperstack);
        return imp;
    }

    /** planes x {label, x0, y0, size} squares. */
    private static LabelResult result(int depth, int[][]... planes) {
        int[] labels = new int[depth * H * W];
        for (int p = 0; p < depth; p++) {
            for (int[] sq : planes[p]) {
                for (int y = sq[2]; y < sq[2] + sq[3]; y++) {
                    for (int x = sq[1]; x < sq[1] + sq[3]; x++) {
                        labels[(p * H + y) * W + x] = sq[0];
                    }
                }
            }
        }
        List<ObjectInfo> objects = new ArrayList<>();
        objects.add(ObjectInfo.newBuilder().setLabel(1).setScore(0.9f).build());
        return new LabelResult(new LabelImage(labels, depth, H, W, depth > 1 ? "zyx" : "yx"), objects, null);
    }

    private static List<String> names(List<Roi> rois) {
        List<String> names = new ArrayList<>();
        for (Roi roi : rois) {
            names.add(roi.getName());
        }
        return names;
    }

    @Test
    public void namesContinueAcrossCallsIntoOneLabelImage() {
        ImagePlus src = source(1, 1, false);
        LabelTarget target = LabelTarget.of(src);
        ResultPublisher.Published first = ResultPublisher.place(target,
                result(1, new int[][] {{1, 1, 1, 3}, {2, 10, 10, 3}}), -1, false);
        assertEquals(java.util.Arrays.asList("SAM-0001", "SAM-0002"), names(first.rois));
        assertEquals("0.9", first.rois.get(0).getProperty("sam_score"));
        ImagePlus labels = target.labels();
        ResultPublisher.Published second = ResultPublisher.place(target, result(1, new int[][] {{1, 5, 5, 3}}), -1,
                false);
        ResultPublisher.Published third = ResultPublisher.place(target, result(1, new int[][] {{4, 15, 2, 2}}), -1,
                false);
        assertEquals(Collections.singletonList("SAM-0003"), names(second.rois));
        assertEquals(Collections.singletonList("SAM-0004"), names(third.rois));
        assertEquals("SAM-0004", third.nameOf(4));
        assertSame("one label image per source, reused", labels, target.labels());
        assertSame(target, LabelTarget.of(src));
        assertSame(src, LabelTarget.sourceOf(labels));
        assertEquals("cells-SAM-labels", labels.getTitle());
        assertEquals(1, labels.getProcessor().get(2, 2));
        assertEquals(2, labels.getProcessor().get(11, 11));
        assertEquals(3, labels.getProcessor().get(6, 6));
        assertEquals(4, labels.getProcessor().get(16, 3));
        assertEquals(0, labels.getProcessor().get(20, 18));
        // a closed label image is created anew, but the names still continue
        target.forget();
        ResultPublisher.Published fourth = ResultPublisher.place(target, result(1, new int[][] {{1, 1, 1, 2}}), -1,
                false);
        assertEquals("SAM-0005", fourth.rois.get(0).getName());
        assertNotEquals(labels, target.labels());
    }

    @Test
    public void labelImageHasAVisibleColourLut() {
        ImagePlus src = source(1, 1, false);
        LabelTarget target = LabelTarget.of(src);
        ResultPublisher.place(target, result(1, new int[][] {{1, 1, 1, 3}}), -1, false);
        ImagePlus labels = target.labels();
        assertEquals(16, labels.getBitDepth());
        assertEquals(0, labels.getDisplayRangeMin(), 0);
        assertEquals(255, labels.getDisplayRangeMax(), 0); // label k is LUT entry k
        LUT lut = labels.getProcessor().getLut();
        assertEquals(0, lut.getRed(0) + lut.getGreen(0) + lut.getBlue(0));
        for (int i = 1; i < 256; i++) {
            int r = lut.getRed(i);
            int g = lut.getGreen(i);
            int b = lut.getBlue(i);
            assertTrue("entry " + i + " too dark", Math.max(r, Math.max(g, b)) >= 200);
            assertTrue("entry " + i + " grey", Math.max(r, Math.max(g, b)) - Math.min(r, Math.min(g, b)) >= 80);
        }
        assertFalse(lut.getRGB(1) == lut.getRGB(2));
    }

    @Test
    public void a3dObjectIsOneNamedGroupWithZPositions() {
        ImagePlus src = source(3, 1, false);
        LabelTarget target = LabelTarget.of(src);
        int[][] plane = {{7, 4, 4, 5}};
        ResultPublisher.Published published = ResultPublisher.place(target, result(3, plane, plane, plane), -1,
                false);
        assertEquals(1, published.objects());
        assertEquals(3, published.rois.size());
        for (int z = 0; z < 3; z++) {
            Roi roi = published.rois.get(z);
            assertEquals("SAM-0001", roi.getName());
            assertEquals("1", roi.getProperty("sam_object"));
            assertEquals(z + 1, roi.getZPosition());
            assertEquals(1, roi.getTPosition());
            assertEquals(1, target.labels().getStack().getProcessor(z + 1).get(6, 6));
        }
    }

    @Test
    public void trackRoisCarryTheirFrame() {
        ImagePlus src = source(1, 4, true);
        LabelTarget target = LabelTarget.of(src);
        int[][] a = {{3, 2, 2, 4}};
        int[][] b = {{9, 12, 8, 4}};
        ResultPublisher.Published published = ResultPublisher.place(target, result(4, a, a, b, b), -1, true);
        assertEquals(2, published.objects());
        assertEquals(java.util.Arrays.asList("SAM-0001", "SAM-0001", "SAM-0002", "SAM-0002"),
                names(published.rois));
        int[] frames = {1, 2, 3, 4};
        for (int i = 0; i < 4; i++) {
            Roi roi = published.rois.get(i);
            assertTrue(roi.hasHyperStackPosition());
            assertEquals(frames[i], roi.getTPosition());
            assertEquals(1, roi.getZPosition());
            assertEquals(1, roi.getCPosition());
        }
        ImagePlus labels = target.labels();
        assertEquals(4, labels.getNFrames());
        assertEquals(1, labels.getNSlices());
        assertEquals(2, labels.getStack().getProcessor(4).get(13, 9));
    }

    @Test
    public void a2dResultGoesToItsPlaneAndAutomaticResultsReplaceIt() {
        ImagePlus src = source(3, 1, false);
        LabelTarget target = LabelTarget.of(src);
        ResultPublisher.Published first = ResultPublisher.place(target, result(1, new int[][] {{1, 1, 1, 4}}), 2,
                true);
        assertEquals(3, first.rois.get(0).getZPosition());
        ResultPublisher.Published other = ResultPublisher.place(target, result(1, new int[][] {{1, 1, 1, 4}}), 0,
                false);
        assertEquals(1, other.rois.get(0).getZPosition());
        ResultPublisher.Published again = ResultPublisher.place(target, result(1, new int[][] {{5, 10, 10, 2}}), 2,
                true);
        assertEquals("SAM-0003", again.rois.get(0).getName());
        ImageStack stack = target.labels().getStack();
        assertEquals("replaced", 0, stack.getProcessor(3).get(2, 2));
        assertEquals(3, stack.getProcessor(3).get(10, 10));
        assertEquals("other planes untouched", 2, stack.getProcessor(1).get(2, 2));
    }

    /** A hyperstack with 2 slices and 3 frames, showing slice 2 of frame 3 (every ROI carries c, z and t). */
    private static ImagePlus zt() {
        ImagePlus src = source(2, 3, true);
        src.setPosition(1, 2, 3);
        return src;
    }

    @Test
    public void aTrackOnAHyperstackWithSlicesAndFramesRunsOverTimeAtTheDisplayedSlice() {
        ImagePlus src = zt();
        LabelTarget target = LabelTarget.of(src);
        int[][] a = {{4, 2, 2, 4}};
        ResultPublisher.Published published = ResultPublisher.place(target, result(3, a, a, a), -1, true);
        assertEquals(1, published.objects());
        assertEquals(3, published.rois.size());
        for (int t = 1; t <= 3; t++) {
            Roi roi = published.rois.get(t - 1);
            assertEquals("SAM-0001", roi.getName());
            assertTrue(roi.hasHyperStackPosition());
            assertEquals(1, roi.getCPosition());
            assertEquals("the displayed slice", 2, roi.getZPosition());
            assertEquals(t, roi.getTPosition());
        }
        ImagePlus labels = target.labels();
        assertEquals(2, labels.getNSlices());
        assertEquals(3, labels.getNFrames());
        for (int t = 1; t <= 3; t++) {
            assertEquals(1, labels.getStack().getProcessor(labels.getStackIndex(1, 2, t)).get(3, 3));
            assertEquals("slice 1 untouched", 0, labels.getStack().getProcessor(labels.getStackIndex(1, 1, t)).get(3, 3));
        }
    }

    @Test
    public void aPropagationOnAHyperstackWithSlicesAndFramesRunsOverZAtTheDisplayedFrame() {
        ImagePlus src = zt();
        LabelTarget target = LabelTarget.of(src);
        int[][] a = {{1, 5, 5, 3}};
        ResultPublisher.Published published = ResultPublisher.place(target, result(2, a, a), -1, false, "z");
        assertEquals(2, published.rois.size());
        for (int z = 1; z <= 2; z++) {
            Roi roi = published.rois.get(z - 1);
            assertEquals(z, roi.getZPosition());
            assertEquals("the displayed frame", 3, roi.getTPosition());
            ImagePlus labels = target.labels();
            assertEquals(1, labels.getStack().getProcessor(labels.getStackIndex(1, z, 3)).get(6, 6));
            assertEquals(0, labels.getStack().getProcessor(labels.getStackIndex(1, z, 1)).get(6, 6));
        }
        // a 2D result (Segment from ROI) lands on the displayed slice and frame
        ResultPublisher.Published one = ResultPublisher.place(target, result(1, new int[][] {{1, 12, 10, 3}}), -1,
                false);
        assertEquals(2, one.rois.get(0).getZPosition());
        assertEquals(3, one.rois.get(0).getTPosition());
    }
}
