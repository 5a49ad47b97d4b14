package org.sambridge.ij;

import ij.IJ;
import ij.Macro;
import java.awt.TextField;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import ij.Prefs;
import ij.gui.GenericDialog;
import org.sambridge.client.SamBridgeClient;
import org.sambridge.v1.AvailableModel;
import org.sambridge.v1.ModelInfo;
import org.sambridge.v1.ServerInfo;

/**
 * Plugins &gt; SAMBridge &gt; Connect. Macro:
 * {@code run("Connect", "address=localhost:50051 token_file=/path/to/token timeout=30 model=");}
 * (add "tls" for TLS; "long_timeout=3600" for the deadline of long calls). The token is typed
 * into a masked field and never recorded; without one it is read from {@code token_file}, then
 * {@code $SAMBRIDGE_TOKEN}, then {@code ~/.sambridge/token}. Old macros' {@code token=} still work. The model may be
 * one the server serves or one of its registry models by name (e.g. "vit_b_lm"), which the
 * server then downloads and serves; the dialog lists the registry models last seen. An empty address
 * means the local server ("Start local server"), started now if none runs.
 */
public final class ConnectCommand extends BridgeCommand {
    private static final String PREFIX = "sambridge.";
    /** Environment variable the token is read from when the dialog and token_file give none. */
    public static final String TOKEN_ENV = "SAMBRIDGE_TOKEN";

    /**
     * The masked token field's text, read without GenericDialog.getNextString so that the macro
     * recorder never sees it; from a macro, its {@code token=} option (kept for old macros).
     */
    private static String typedToken(GenericDialog gd) {
        String options = Macro.getOptions();
        if (options != null) {
            return Macro.getValue(options, "token", "").trim();
        }
        java.util.Vector<?> fields = gd.getStringFields();
        return fields == null || fields.isEmpty() ? "" : ((TextField) fields.lastElement()).getText().trim();
    }

    /**
     * The token to use: the typed one, else the first line of the token file, else the
     * environment variable, else the first line of the default token file; "" if none.
     *
     * @param typed the dialog's (or macro's) token
     * @param tokenFile a path, or ""
     * @param env the value of SAMBRIDGE_TOKEN, or null
     * @param defaultFile ~/.sambridge/token
     * @return the token
     * @throws IllegalArgumentException if the named token file cannot be read
     */
    public static String resolveToken(String typed, String tokenFile, String env, File defaultFile) {
        if (typed != null && !typed.isEmpty()) {
            return typed;
        }
        if (tokenFile != null && !tokenFile.isEmpty()) {
            String token = firstLine(new File(tokenFile));
            if (token == null) {
                throw new IllegalArgumentException("cannot read the token file " + tokenFile);
            }
            return token;
        }
        if (env != null && !env.trim().isEmpty()) {
            return env.trim();
        }
        String token = defaultFile != null && defaultFile.isFile() ? firstLine(defaultFile) : null;
        return token == null ? "" : token;
    }

    private static String firstLine(File file) {
        try {
            List<String> lines = Files.readAllLines(file.toPath(), StandardCharsets.UTF_8);
            return lines.isEmpty() ? "" : lines.get(0).trim();
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    @Override
    protected String name() {
        return "Connect";
    }

    @Override
    protected void execute() throws java.io.IOException {
        GenericDialog gd = new GenericDialog("SAMBridge Connect");
        gd.addStringField("address", Prefs.get(PREFIX + "address", "localhost:50051"), 25);
        gd.addStringField("token_file", Prefs.get(PREFIX + "token_file", ""), 25);
        gd.addCheckbox("tls", Prefs.get(PREFIX + "tls", false));
        gd.addNumericField("timeout", Prefs.get(PREFIX + "timeout", 30), 0, 6, "s");
        gd.addNumericField("long_timeout", Prefs.get(PREFIX + "long_timeout", 3600), 0, 6, "s");
        gd.addStringField("model", Prefs.get(PREFIX + "model", ""), 15);
        gd.setEchoChar('*');
        gd.addStringField("token", "", 25); // masked; the last string field, read without recording
        String available = Prefs.get(PREFIX + "available_models", "");
        gd.addMessage("token: empty = read from token_file, else $" + TOKEN_ENV + ", else ~/.sambridge/token"
                + " (the token is never recorded)\n"
                + "model: empty = the server's default, or a model by name (downloaded on first use)"
                + (available.isEmpty() ? ";\nthe Log lists the server's models after connecting"
                        : ":\n" + wrap(available, 70)));
        gd.showDialog();
        if (gd.wasCanceled()) {
            return;
        }
        String address = gd.getNextString().trim();
        String tokenFile = gd.getNextString().trim();
        boolean tls = gd.getNextBoolean();
        double timeout = gd.getNextNumber();
        double longTimeout = gd.getNextNumber();
        String model = gd.getNextString().trim();
        String typed = typedToken(gd);
        String token = resolveToken(typed, tokenFile, System.getenv(TOKEN_ENV),
                new File(System.getProperty("user.home"), ".sambridge/token"));
        Prefs.set(PREFIX + "token_file", tokenFile);
        if (address.isEmpty()) { // no address: the local server (started now if none runs)
            org.sambridge.client.LocalServer local = LocalServerSession.current();
            if (local == null) {
                IJ.log("SAMBridge Connect: no address given; starting a local server");
                local = StartServerCommand.startAndConnect("", "", 180);
            }
            address = local.address();
            token = local.token();
            tls = false;
        }
        IJ.showStatus("SAMBridge: connecting to " + address + "...");
        SamBridgeClient client = SamBridgeClient.connect(address, token, tls, timeout);
        client.setLongCallTimeoutSeconds(longTimeout);
        pullIfNeeded(client, model);
        client.setModel(model);
        BridgeSession.set(client);
        Prefs.set(PREFIX + "address", LocalServerSession.current() != null
                && address.equals(LocalServerSession.current().address()) ? "" : address);
        Prefs.set(PREFIX + "tls", tls);
        Prefs.set(PREFIX + "timeout", timeout);
        Prefs.set(PREFIX + "long_timeout", longTimeout);
        Prefs.set(PREFIX + "model", model);
        describe(client);
    }

    /**
     * Checks that the server knows the model; serves a registry model it does not serve yet
     * (download progress in the status bar). The client is closed on failure.
     */
    private static void pullIfNeeded(SamBridgeClient client, String model) {
        java.util.List<String> served = new java.util.ArrayList<>();
        java.util.List<String> available = new java.util.ArrayList<>();
        try {
            for (ModelInfo info : client.listModels()) {
                served.add(info.getName());
            }
            if (!model.isEmpty() && !served.contains(model)) {
                for (AvailableModel info : client.listAvailableModels()) {
                    available.add(info.getName());
                }
            }
            if (ModelCheck.check(model, served, available) == ModelCheck.Action.PULL) {
                IJ.log("SAMBridge: the server downloads (if needed) and loads " + model + "...");
                client.pullModel(model, new ImageJProgress("Connect"));
            }
        } catch (RuntimeException e) {
            client.close();
            throw e;
        }
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
