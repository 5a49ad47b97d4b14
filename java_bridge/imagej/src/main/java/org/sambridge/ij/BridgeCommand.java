package org.sambridge.ij;

import ij.IJ;
import ij.ImagePlus;
import ij.Macro;
import ij.macro.Interpreter;
import java.awt.GraphicsEnvironment;
import ij.plugin.PlugIn;
import org.sambridge.client.SamBridgeException;

/**
 * Base of all SAMBridge menu commands: runs the command and reports any failure
 * with IJ.error and IJ.log (never hangs: every server call has a deadline).
 */
public abstract class BridgeCommand implements PlugIn {
    /** Whether this run came from a macro (read at the start: a dialog consumes the options). */
    private boolean fromMacro;

    /** @return the command name, e.g. "Segment all" */
    protected abstract String name();

    /**
     * Does the work; dialogs use GenericDialog so macros can pass named parameters.
     *
     * @throws Exception any failure, reported to the user
     */
    protected abstract void execute() throws Exception;

    @Override
    public final void run(String arg) {
        IJ.resetEscape();
        fromMacro = Macro.getOptions() != null || Interpreter.getInstance() != null || Interpreter.isBatchMode()
                || GraphicsEnvironment.isHeadless();
        try {
            execute();
        } catch (SamBridgeException e) {
            report(e.getMessage());
        } catch (IllegalStateException | IllegalArgumentException e) {
            report(e.getMessage());
        } catch (Exception e) {
            report(e.toString());
            IJ.log(stackTrace(e));
        } finally {
            IJ.showProgress(1.0);
        }
    }

    /** @return whether this run came from a macro, batch mode or a headless ImageJ (no dialogs) */
    protected final boolean fromMacro() {
        return fromMacro;
    }

    /**
     * @return the active image
     * @throws IllegalStateException if there is none
     */
    protected static ImagePlus requireImage() {
        ImagePlus imp = ij.WindowManager.getCurrentImage();
        if (imp == null) {
            throw new IllegalStateException("No image is open.");
        }
        ImagePlus source = LabelTarget.sourceOf(imp);
        if (source != null && (source.getWindow() != null || ij.WindowManager.getImage(source.getID()) != null)) {
            // the user drew on the SAM label image: work on its source, with that selection
            ij.gui.Roi roi = imp.getRoi();
            if (roi != null) {
                source.setRoi((ij.gui.Roi) roi.clone());
            }
            if (source.getStackSize() == imp.getStackSize()) {
                source.setPosition(source.getC(), imp.getZ(), imp.getT());
            }
            return source;
        }
        return imp;
    }

    /**
     * Interactive use: an error dialog. Macros (and headless/batch runs): no modal
     * dialog, which could block forever; the error goes to the Log and the macro
     * is aborted so that it does not continue on missing results.
     */
    private void report(String message) {
        IJ.log("SAMBridge " + name() + ": " + message);
        IJ.showStatus("SAMBridge " + name() + " failed");
        if (fromMacro || Macro.getOptions() != null) {
            System.err.println("SAMBridge " + name() + ": " + message);
            Interpreter interpreter = Interpreter.getInstance();
            if (interpreter != null) {
                interpreter.abortMacro();
            }
        } else {
            IJ.error("SAMBridge " + name(), message);
        }
    }

    private static String stackTrace(Throwable t) {
        java.io.StringWriter text = new java.io.StringWriter();
        t.printStackTrace(new java.io.PrintWriter(text));
        return text.toString();
    }
}
