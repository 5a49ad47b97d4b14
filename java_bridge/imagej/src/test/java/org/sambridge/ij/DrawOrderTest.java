package org.sambridge.ij;

import static org.junit.Assert.assertEquals;

import ij.ImagePlus;
import ij.gui.Roi;
import ij.gui.ShapeRoi;
import ij.process.ByteProcessor;
import org.junit.Test;
import org.sambridge.v1.Box;

/** Composite prompts keep the order drawn, not the geometric order ImageJ's ShapeRoi returns. */
public class DrawOrderTest {
    @Test
    public void compositePartsComeBackInDrawingOrder() {
        ImagePlus imp = new ImagePlus("c", new ByteProcessor(100, 100));
        Roi first = new Roi(60, 60, 10, 10);    // drawn first, bottom right
        Roi second = new Roi(5, 5, 10, 10);     // shift-added second, top left
        Roi third = new Roi(60, 5, 10, 10);     // third, top right
        DrawOrder order = DrawOrder.instance();
        order.update(imp.getID(), first);
        ShapeRoi two = new ShapeRoi(first).or(new ShapeRoi(second));
        order.update(imp.getID(), two);
        ShapeRoi three = new ShapeRoi(two).or(new ShapeRoi(third));
        order.update(imp.getID(), three);
        imp.setRoi(three);
        PromptCollector prompts = PromptCollector.collect(imp.getRoi(), false);
        assertEquals(3, prompts.boxes().size());
        assertBox(prompts.boxes().get(0), 60, 60);
        assertBox(prompts.boxes().get(1), 5, 5);
        assertBox(prompts.boxes().get(2), 60, 5);
        // a part removed from the composite leaves the others in their order
        ShapeRoi without = new ShapeRoi(first).or(new ShapeRoi(third));
        order.update(imp.getID(), without);
        imp.setRoi(without);
        PromptCollector after = PromptCollector.collect(imp.getRoi(), false);
        assertBox(after.boxes().get(0), 60, 60);
        assertBox(after.boxes().get(1), 60, 5);
    }

    private static void assertBox(Box box, int x0, int y0) {
        assertEquals(x0, box.getX0(), 0.5);
        assertEquals(y0, box.getY0(), 0.5);
    }
}
