package org.sambridge.ij;

import ij.IJ;
import ij.gui.GenericDialog;
import java.io.File;
import java.util.List;
import org.sambridge.client.ServerCommand;

/**
 * Edit &gt; Options &gt; SAMBridge: the Python environment "Start local server" runs
 * {@code sambridge-server} from (stored in ImageJ's preferences, {@code sambridge.python}); empty
 * lets the plugin find one. Macro: {@code run("SAMBridge...", "python=[/home/me/.venv]");}
 */
public final class OptionsCommand extends BridgeCommand {
    @Override
    protected String name() {
        return "Options";
    }

    @Override
    protected void execute() {
        GenericDialog gd = new GenericDialog("SAMBridge Options");
        gd.addStringField("python", LocalServerSession.python(), 40);
        gd.addMessage("A Python environment folder with sambridge-server installed, its python or its\n"
                + "sambridge-server script; empty = $SAMBRIDGE_PYTHON, the PATH, ~/.venv, conda envs");
        gd.showDialog();
        if (gd.wasCanceled()) {
            return;
        }
        String python = gd.getNextString().trim();
        List<String> command = ServerCommand.find(python, System.getenv(), new File(System.getProperty("user.home")));
        LocalServerSession.setPython(python);
        IJ.log("SAMBridge Options: python=" + (python.isEmpty() ? "(find)" : python) + " -> "
                + (command == null ? "no sambridge-server found yet" : String.join(" ", command)));
    }
}
