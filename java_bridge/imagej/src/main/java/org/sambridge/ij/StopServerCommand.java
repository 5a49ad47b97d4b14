package org.sambridge.ij;

import ij.IJ;

/**
 * Plugins &gt; SAMBridge &gt; Stop local server: disconnects from and stops the server that "Start
 * local server" started. Macro: {@code run("Stop local server");}
 */
public final class StopServerCommand extends BridgeCommand {
    @Override
    protected String name() {
        return "Stop local server";
    }

    @Override
    protected void execute() {
        org.sambridge.client.LocalServer server = LocalServerSession.current();
        if (server != null && BridgeSession.isConnectedTo(server.address())) {
            BridgeSession.disconnect();
        }
        IJ.log(LocalServerSession.stop() ? "SAMBridge: local server stopped" : "SAMBridge: no local server runs");
    }
}
