package org.sambridge.ij;

import ij.IJ;

/**
 * Plugins &gt; SAMBridge &gt; Disconnect: closes the connection (a local server started by the plugin
 * keeps running until "Stop local server" or ImageJ quits). Macro: {@code run("Disconnect");}
 */
public final class DisconnectCommand extends BridgeCommand {
    @Override
    protected String name() {
        return "Disconnect";
    }

    @Override
    protected void execute() {
        String address = BridgeSession.disconnect();
        IJ.log(address == null ? "SAMBridge: not connected" : "SAMBridge: disconnected from " + address);
        IJ.showStatus("SAMBridge: disconnected");
    }
}
