package org.sambridge.ij;

import ij.IJ;
import ij.Prefs;
import ij.gui.GenericDialog;
import org.sambridge.client.SamBridgeClient;
import org.sambridge.v1.AvailableModel;
import org.sambridge.v1.ModelInfo;
import org.sambridge.v1.ServerInfo;

/**
 * Plugins &gt; SAMBridge &gt; Connect. Macro:
 * {@code run("Connect", "address=localhost:50051 token=secret timeout=30 model=");}
 * (add "tls" for TLS; "long_timeout=3600" for the deadline of long calls). The model may be
 * one the server serves or one of its registry models by name (e.g. "vit_b_lm"), which the
 * server then downloads and serves; the dialog lists the registry models last seen.
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
        String available = Prefs.get(PREFIX + "available_models", "");
        gd.addMessage("model: empty = the server's default, or a model by name (downloaded on first use)"
                + (available.isEmpty() ? ";\nthe Log lists the server's models after connecting"
                        : ":\n" + wrap(available, 70)));
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
        pullIfNeeded(client, model);
        client.setModel(model);
        BridgeSession.set(client);
        Prefs.set(PREFIX + "address", address);
        Prefs.set(PREFIX + "tls", tls);
        Prefs.set(PREFIX + "timeout", timeout);
        Prefs.set(PREFIX + "long_timeout", longTimeout);
        Prefs.set(PREFIX + "model", model);
        describe(client);
    }

    /** Serves a registry model the server does not serve yet (download progress in the status bar). */
    private static void pullIfNeeded(SamBridgeClient client, String model) {
        if (model.isEmpty()) {
            return;
        }
        for (ModelInfo served : client.listModels()) {
            if (served.getName().equals(model)) {
                return;
            }
        }
        IJ.log("SAMBridge: the server downloads (if needed) and loads " + model + "...");
        client.pullModel(model, new ImageJProgress("Connect"));
    }

    /** Breaks a comma-separated list into lines of at most about {@code width} characters. */
    private static String wrap(String list, int width) {
        StringBuilder out = new StringBuilder();
        int lineStart = 0;
        for (String item : list.split(", ")) {
            if (out.length() > 0) {
                out.append(out.length() - lineStart + item.length() > width ? ",\n" : ", ");
                if (out.charAt(out.length() - 1) == '\n') {
                    lineStart = out.length();
                }
            }
            out.append(item);
        }
        return out.toString();
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
            StringBuilder names = new StringBuilder();
            for (AvailableModel model : client.listAvailableModels()) {
                text.append("\n  by name: ").append(model.getName()).append(" [").append(model.getModelType())
                        .append(model.getHasDecoder() ? ", AIS decoder" : "")
                        .append(model.getLoaded() ? ", served" : model.getDownloaded() ? ", downloaded" : ", download")
                        .append(']');
                names.append(names.length() == 0 ? "" : ", ").append(model.getName());
            }
            Prefs.set(PREFIX + "available_models", names.toString());
        } catch (RuntimeException e) {
            text.append(" (server info unavailable: ").append(e.getMessage()).append(')');
        }
        IJ.log(text.toString());
        IJ.showStatus("SAMBridge: connected");
    }
}
