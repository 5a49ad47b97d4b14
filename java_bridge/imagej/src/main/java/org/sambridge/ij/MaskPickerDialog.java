package org.sambridge.ij;

import ij.Macro;
import ij.gui.GenericDialog;
import ij.macro.Interpreter;
import java.awt.GraphicsEnvironment;

/**
 * The interactive multimask picker: a dialog listing SAM's masks with their scores and areas,
 * the best-scoring one preselected. Never shown from macros, batch mode or headless (there the
 * {@code mask=} option decides).
 */
final class MaskPickerDialog {
    private MaskPickerDialog() {
    }

    /** @return true when a dialog may be shown (not from a macro, batch mode or headless) */
    static boolean interactive() {
        return Macro.getOptions() == null && !Interpreter.isBatchMode() && !GraphicsEnvironment.isHeadless();
    }

    /**
     * @param scores the masks' scores
     * @param areas the masks' pixel counts
     * @param preselected index shown selected
     * @return the chosen mask index, or -1 if cancelled
     */
    static int ask(float[] scores, long[] areas, int preselected) {
        String[] options = MaskPicker.options(scores, areas);
        GenericDialog gd = new GenericDialog("SAMBridge: pick a mask");
        gd.addRadioButtonGroup("masks", options, options.length, 1, options[preselected]);
        gd.showDialog();
        return gd.wasCanceled() ? -1 : MaskPicker.indexOf(gd.getNextRadioButton());
    }
}
