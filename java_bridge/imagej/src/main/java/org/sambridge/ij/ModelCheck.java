package org.sambridge.ij;

import java.util.Collection;

/** What Connect does with the model asked for: use it, pull it by name, or refuse it. */
final class ModelCheck {
    /** The outcome for one model name. */
    enum Action {
        /** the server's default ("") or a model it serves */
        USE,
        /** a registry model it can serve by name (download and load first) */
        PULL
    }

    private ModelCheck() {
    }

    /**
     * @param model the requested name ("" = the default)
     * @param served names the server serves
     * @param available names of its registry
     * @return the action
     * @throws IllegalArgumentException if the server knows no model of that name (the message lists them)
     */
    static Action check(String model, Collection<String> served, Collection<String> available) {
        if (model.isEmpty() || served.contains(model)) {
            return Action.USE;
        }
        if (available.contains(model)) {
            return Action.PULL;
        }
        throw new IllegalArgumentException("the server has no model \"" + model + "\"; it serves " + served
                + (available.isEmpty() ? "" : " and can serve by name " + available));
    }
}
