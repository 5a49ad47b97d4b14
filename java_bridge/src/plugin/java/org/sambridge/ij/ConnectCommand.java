package org.sambridge.ij;

import ij.IJ;
import ij.Prefs;
import ij.gui.GenericDialog;
import org.sambridge.client.SamBridgeClient;
import org.sambridge.v1.ModelInfo;
import org.sambridge.v1.ServerInfo;

/**
 * Plugins &gt; SAMBridge &gt; Connect. Macro:
 * {@code run("Connect", "address=localhost:50051 token=secret timeout=30 model=");}
 * (add "tls" for TLS; "long_timeout=3600" for the deadline of long calls).
 */
public final class ConnectCommand extends BridgeCommand {
    private static final String PREFIX = "sambridge.";

    @Override
    protected String name() {
        return "Connect";
    }

    @Override
    protected void execute() {
        GenericDialog gd = new GenericDialog("SAMBridge Connect");
        gd.addStringField("address", Prefs.get(PREFIX + "address", "localhost:50051"), 25);
        gd.addStringField("token", "", 25);
        gd.addCheckbox("tls", Prefs.get(PREFIX + "tls", false));
        gd.addNumericField("timeout", Prefs.get(PREFIX + "timeout", 30), 0, 6, "s");
        gd.addNumericField("long_timeout", Prefs.get(PREFIX + "long_timeout", 3600), 0, 6, "s");
        gd.addStringField("model", Prefs.get(PREFIX + "model", ""), 15);
        gd.showDialog();
        if (gd.wasCanceled()) {
            return;
        }
        String address = gd.getNextString().trim();
        String token = gd.getNextString().trim();
        boolean tls = gd.getNextBoolean();
        double timeout = gd.getNextNumber();
        double longTimeout = gd.getNextNumber();
        String model = gd.getNextString().trim();
        IJ.showStatus("SAMBridge: connecting to " + address + "...");
        SamBridgeClient client = SamBridgeClient.connect(address, token, tls, timeout);
        client.setLongCallTimeoutSeconds(longTimeout);
        client.setModel(model);
        BridgeSession.set(client);
        Prefs.set(PREFIX + "address", address);
        Prefs.set(PREFIX + "tls", tls);
        Prefs.set(PREFIX + "timeout", timeout);
        Prefs.set(PREFIX + "long_timeout", longTimeout);
        Prefs.set(PREFIX + "model", model);
        describe(client);
    }

    private static void describe(SamBridgeClient client) {
        StringBuilder text = new StringBuilder("SAMBridge: connected to " + client.address());
        try {
            ServerInfo info = client.serverInfo();
            text.append(" (server ").append(info.getVersion()).append(", device ").append(info.getDevice())
                    .append(", default model ").append(info.getDefaultModel()).append(')');
            for (ModelInfo model : client.listModels()) {
                text.append("\n  model ").append(model.getName()).append(" [").append(model.getModelType())
                        .append(model.getHasDecoder() ? ", AIS decoder" : "").append(']');
            }
        } catch (RuntimeException e) {
            text.append(" (server info unavailable: ").append(e.getMessage()).append(')');
        }
        IJ.log(text.toString());
        IJ.showStatus("SAMBridge: connected");
    }
}
