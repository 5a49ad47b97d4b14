package org.sambridge.ij;

import ij.IJ;
import ij.gui.GenericDialog;
import java.io.File;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.sambridge.client.LocalServer;
import org.sambridge.client.SamBridgeClient;
import org.sambridge.client.ServerCommand;

/**
 * Plugins &gt; SAMBridge &gt; Start local server: runs {@code sambridge-server} from the Python
 * environment set in Edit &gt; Options &gt; SAMBridge (or found: $SAMBRIDGE_PYTHON, the PATH, usual
 * venv/conda folders) on 127.0.0.1 with a free port and a random token, shows its log in a window,
 * waits until it listens and connects to it. It works offline with the default model; it is
 * stopped by "Stop local server" or when ImageJ quits. Macro:
 * {@code run("Start local server", "python=[/path/to/env] arguments=[--cache-dir /tmp/c] wait=120");}
 */
public final class StartServerCommand extends BridgeCommand {
    @Override
    protected String name() {
        return "Start local server";
    }

    @Override
    protected void execute() throws Exception {
        GenericDialog gd = new GenericDialog("SAMBridge Start local server");
        gd.addStringField("python", LocalServerSession.python(), 40);
        gd.addStringField("arguments", "", 40);
        gd.addNumericField("wait", 180, 0, 6, "s");
        gd.addMessage("python: a Python environment folder, its python or its sambridge-server\n"
                + "(empty = Edit > Options > SAMBridge, else $SAMBRIDGE_PYTHON, the PATH, ~/.venv, conda envs)");
        gd.showDialog();
        if (gd.wasCanceled()) {
            return;
        }
        String python = gd.getNextString().trim();
        String arguments = gd.getNextString().trim();
        double wait = gd.getNextNumber();
        startAndConnect(python, arguments, wait);
    }

    /**
     * Starts a local server (the running one is stopped first), shows its log and connects to it.
     *
     * @param python the Python environment ("" = configured or found)
     * @param arguments further server options, space-separated
     * @param wait seconds to wait for "listening on"
     * @return the server
     * @throws java.io.IOException if it does not start
     */
    static LocalServer startAndConnect(String python, String arguments, double wait) throws java.io.IOException {
        List<String> command = ServerCommand.find(python.isEmpty() ? LocalServerSession.python() : python,
                System.getenv(), new File(System.getProperty("user.home")));
        if (command == null) {
            throw new IllegalStateException("no Python environment with sambridge-server found: set one in "
                    + "Edit > Options > SAMBridge (pip install sambridge-server into it first)");
        }
        List<String> extra = arguments.isEmpty() ? new ArrayList<>()
                : new ArrayList<>(Arrays.asList(arguments.split("\\s+")));
        IJ.showStatus("SAMBridge: starting " + String.join(" ", command) + "...");
        ServerLogWindow log = new ServerLogWindow();
        LocalServer server = LocalServer.start(command, extra, log::append, wait);
        LocalServerSession.set(server);
        BridgeSession.set(SamBridgeClient.connect(server.address(), server.token(), false, 30));
        IJ.log("SAMBridge: local server started at " + server.address() + " (" + String.join(" ", command)
                + "), connected; it stops when ImageJ quits");
        IJ.showStatus("SAMBridge: local server at " + server.address());
        return server;
    }
}
