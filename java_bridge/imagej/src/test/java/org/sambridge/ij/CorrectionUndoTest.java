package org.sambridge.ij;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;

import ij.ImagePlus;
import ij.ImageStack;
import ij.process.ByteProcessor;
import java.util.Arrays;
import java.util.Collections;
import org.junit.Test;
import org.sambridge.client.Prompts;

/**
 * Points on an object with a handle select it for correction (others do not); an undo step
 * restores the label planes it snapshot; the history is bounded and per source.
 */
public class CorrectionUndoTest {
    private static ImagePlus source(int planes) {
        ImageStack stack = new ImageStack(10, 8);
        for (int i = 0; i < planes; i++) {
            stack.addSlice(null, new ByteProcessor(10, 8));
        }
        ImagePlus imp = new ImagePlus("c.tif", stack);
        imp.setDimensions(1, planes, 1);
        return imp;
    }

    @Test
    public void onlyObjectsWithAHandleAreCorrected() {
        ImagePlus src = source(2);
        LabelTarget target = LabelTarget.of(src);
        ImagePlus labels = target.labelsOrCreate();
        labels.getStack().getProcessor(2).set(3, 3, 5);
        labels.getStack().getProcessor(2).set(6, 6, 7);
        target.setHandle(7, "h7");
        assertEquals(0, ObjectCorrection.objectUnder(target, Arrays.asList(Prompts.point(3, 3, true)), 1));
        assertEquals(7, ObjectCorrection.objectUnder(target,
                Arrays.asList(Prompts.point(3, 3, true), Prompts.point(6, 6, false)), 1));
        assertEquals(0, ObjectCorrection.objectUnder(target, Arrays.asList(Prompts.point(6, 6, true)), 0));
        assertEquals(0, ObjectCorrection.objectUnder(target, Arrays.asList(Prompts.point(60, 6, true)), 1));
        assertEquals("h7", target.handleOf(7));
        assertNull(target.handleOf(5));
    }

    @Test
    public void undoRestoresTheSnapshotPlanes() {
        ImagePlus src = source(2);
        LabelTarget target = LabelTarget.of(src);
        ImagePlus labels = target.labelsOrCreate();
        labels.getStack().getProcessor(1).set(1, 1, 4);
        UndoStep step = new UndoStep();
        step.snapshot(labels, Collections.singletonList(1));
        labels.getStack().getProcessor(1).set(1, 1, 9);
        labels.getStack().getProcessor(1).set(2, 2, 9);
        step.restore(labels);
        assertEquals(4, labels.getStack().getProcessor(1).get(1, 1));
        assertEquals(0, labels.getStack().getProcessor(1).get(2, 2));
    }

    @Test
    public void historyIsBoundedAndLastInFirstOut() {
        LabelTarget target = LabelTarget.of(source(1));
        UndoStep[] steps = new UndoStep[LabelTarget.UNDO_DEPTH + 2];
        for (int i = 0; i < steps.length; i++) {
            steps[i] = new UndoStep();
            target.pushUndo(steps[i]);
        }
        int popped = 0;
        UndoStep last = null;
        for (UndoStep s = target.popUndo(); s != null; s = target.popUndo()) {
            if (popped == 0) {
                last = s;
            }
            popped++;
        }
        assertEquals(LabelTarget.UNDO_DEPTH, popped);
        assertEquals(steps[steps.length - 1], last);
        assertNull(LabelTarget.of(source(1)).popUndo());
    }

    @Test
    public void pickerOptionsShowScoresAndMapBack() {
        String[] options = MaskPicker.options(new float[] {0.5f, 0.9254f}, new long[] {10, 200});
        assertArrayEquals(new String[] {"mask 0: score 0.500, 10 px", "mask 1: score 0.925, 200 px"}, options);
        assertEquals(1, MaskPicker.indexOf(options[1]));
        assertEquals(0, MaskPicker.indexOf(options[0]));
    }

    @Test
    public void roisAreFoundAgainAlsoAsCopies() {
        ij.gui.Roi a = new ij.gui.Roi(1, 2, 3, 4);
        a.setName("SAM-0001");
        a.setPosition(1, 2, 1);
        ij.gui.Roi b = new ij.gui.Roi(1, 2, 3, 4);
        b.setName("SAM-0002");
        b.setPosition(1, 2, 1);
        ij.gui.Roi[] present = {b, (ij.gui.Roi) a.clone()};
        assertEquals(0, RoiManagerEdits.indexOf(present, b));
        assertEquals(1, RoiManagerEdits.indexOf(present, a));
        ij.gui.Roi elsewhere = (ij.gui.Roi) a.clone();
        elsewhere.setPosition(1, 3, 1);
        assertEquals(-1, RoiManagerEdits.indexOf(present, elsewhere));
    }
}
