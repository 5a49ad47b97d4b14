package org.sambridge.ij;

import ij.IJ;
import org.sambridge.client.SamBridgeClient;
import org.sambridge.v1.AvailableModel;
import org.sambridge.v1.Job;
import org.sambridge.v1.ModelInfo;
import org.sambridge.v1.ServerInfo;

/**
 * Plugins &gt; SAMBridge &gt; Status: the server's version, device, capabilities, the models it
 * serves and can serve by name, the model in use and this caller's training jobs, in the Log.
 * Macro: {@code run("Status");}
 */
public final class StatusCommand extends BridgeCommand {
    @Override
    protected String name() {
        return "Status";
    }

    @Override
    protected void execute() {
        SamBridgeClient client = BridgeSession.require();
        IJ.log(describe(client));
    }

    /**
     * @param client a connected client
     * @return the status text (several lines)
     */
    static String describe(SamBridgeClient client) {
        ServerInfo info = client.serverInfo();
        StringBuilder text = new StringBuilder("SAMBridge status: server " + client.address() + " version "
                + info.getVersion() + ", device " + info.getDevice() + ", default model " + info.getDefaultModel()
                + ", capabilities " + info.getCapabilitiesList() + "\n  model in use: "
                + (client.model().isEmpty() ? "(default)" : client.model()));
        for (ModelInfo model : client.listModels()) {
            text.append("\n  served: ").append(model.getName()).append(" [").append(model.getModelType())
                    .append(model.getHasDecoder() ? ", AIS decoder" : "").append(']');
        }
        try {
            for (AvailableModel model : client.listAvailableModels()) {
                text.append("\n  by name: ").append(model.getName())
                        .append(model.getLoaded() ? " (served)" : model.getDownloaded() ? " (downloaded)" : "");
            }
            for (Job job : client.training().list()) {
                text.append("\n  job ").append(job.getJobId()).append(' ').append(job.getState()).append(" -> ")
                        .append(job.getOutputModel()).append(job.getMessage().isEmpty() ? "" : ": " + job.getMessage());
            }
        } catch (RuntimeException e) {
            text.append("\n  (").append(e.getMessage()).append(')');
        }
        return text.toString();
    }
}
