package org.sambridge.ij;

import ij.IJ;
import ij.gui.GenericDialog;
import org.sambridge.client.SamBridgeClient;
import org.sambridge.v1.ModelInfo;

/**
 * Plugins &gt; SAMBridge &gt; Load model: has the server serve a model by name, either one of its
 * registry models (downloaded on first use, PullModel, progress in the status bar) or a checkpoint
 * under the server's --model-root (LoadModel); "use" makes it the model of later commands. Macro:
 * {@code run("Load model", "name=vit_b_lm checkpoint_path=[] use");}
 */
public final class LoadModelCommand extends BridgeCommand {
    @Override
    protected String name() {
        return "Load model";
    }

    @Override
    protected void execute() {
        SamBridgeClient client = BridgeSession.require();
        GenericDialog gd = new GenericDialog("SAMBridge Load model");
        gd.addStringField("name", "", 20);
        gd.addStringField("checkpoint_path", "", 30);
        gd.addCheckbox("use", true);
        gd.addMessage("name alone: a registry model (see Status); with checkpoint_path: a file under the\n"
                + "server's --model-root, served under that name");
        gd.showDialog();
        if (gd.wasCanceled()) {
            return;
        }
        String model = gd.getNextString().trim();
        String path = gd.getNextString().trim();
        boolean use = gd.getNextBoolean();
        if (model.isEmpty()) {
            throw new IllegalArgumentException("give the model's name");
        }
        ModelInfo info = path.isEmpty() ? client.pullModel(model, new ImageJProgress(name()))
                : client.loadModel(model, path, "");
        if (use) {
            client.setModel(info.getName());
        }
        IJ.log("SAMBridge Load model: " + info.getName() + " [" + info.getModelType()
                + (info.getHasDecoder() ? ", AIS decoder" : "") + "] served" + (use ? ", in use" : ""));
    }
}
