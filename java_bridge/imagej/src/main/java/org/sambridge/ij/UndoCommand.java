package org.sambridge.ij;

import ij.IJ;
import ij.ImagePlus;
import ij.gui.Roi;
import ij.plugin.frame.RoiManager;

/**
 * Plugins &gt; SAMBridge &gt; Undo last SAM step: takes back the last SAMBridge result or correction
 * on the active image: its label planes and ROIs return to their state before, and a correction
 * made through an object handle is also undone on the server (PromptService Undo), so the next
 * click continues from the earlier prompts. Repeatable (up to 20 steps). Macro:
 * {@code run("Undo last SAM step");}
 */
public final class UndoCommand extends BridgeCommand {
    @Override
    protected String name() {
        return "Undo last SAM step";
    }

    @Override
    protected void execute() {
        ImagePlus imp = requireImage();
        LabelTarget target = LabelTarget.of(imp);
        UndoStep step = target.popUndo();
        if (step == null) {
            throw new IllegalStateException("no SAMBridge step to undo on " + imp.getTitle());
        }
        if (step.handle != null) {
            BridgeSession.require().undo(step.imageId, step.index, step.handle);
        }
        ImagePlus labels = target.labels();
        if (labels != null) {
            step.restore(labels);
        }
        RoiManager manager = ResultPublisher.roiManager();
        RoiManagerEdits.remove(manager, step.added);
        for (Roi roi : step.removed) {
            manager.addRoi(roi);
        }
        ResultPublisher.keepActive(imp);
        IJ.log("SAMBridge: undid the last step on " + imp.getTitle() + " (" + step.added.size() + " ROI(s) removed, "
                + step.removed.size() + " restored" + (step.handle != null ? ", server object restored" : "") + ")");
    }
}
