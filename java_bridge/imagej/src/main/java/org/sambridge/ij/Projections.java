package org.sambridge.ij;

import org.sambridge.v1.ProjectionMode;

/** The projection choices of propagation dialogs ("single_point" ... "points_and_mask"). */
final class Projections {
    /** Dialog choices, in ProjectionMode order from SINGLE_POINT. */
    static final String[] CHOICES = {"single_point", "points", "box", "mask", "points_and_mask"};

    private Projections() {
    }

    /**
     * @param index the chosen index of {@link #CHOICES}
     * @return the projection mode
     */
    static ProjectionMode of(int index) {
        return ProjectionMode.forNumber(1 + index);
    }
}
