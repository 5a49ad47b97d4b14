package org.sambridge.ij;

/**
 * Picks one of SAM's masks (three with multimask, best first): {@code best} (highest score),
 * {@code largest}, {@code smallest}, or an index {@code 0|1|2} into the returned order.
 */
public final class MaskPicker {
    /** The choices, as the dialog and the macro option {@code mask=} take them. */
    public static final String[] CHOICES = {"best", "largest", "smallest", "0", "1", "2"};

    private MaskPicker() {
    }

    /**
     * @param choice one of {@link #CHOICES}
     * @return whether the choice needs all three masks
     */
    public static boolean needsMultimask(String choice) {
        return !"best".equals(choice);
    }

    /**
     * @param choice one of {@link #CHOICES}
     * @param scores the masks' scores
     * @param areas the masks' pixel counts
     * @return the index of the picked mask
     * @throws IllegalArgumentException for an unknown choice or an index beyond the masks
     */
    public static int pick(String choice, float[] scores, long[] areas) {
        int n = scores.length;
        if (n == 0 || areas.length != n) {
            throw new IllegalArgumentException("no masks to pick from");
        }
        int picked = 0;
        switch (choice) {
            case "best":
                for (int i = 1; i < n; i++) {
                    if (scores[i] > scores[picked]) {
                        picked = i;
                    }
                }
                return picked;
            case "largest":
            case "smallest":
                boolean largest = "largest".equals(choice);
                for (int i = 1; i < n; i++) {
                    if (largest ? areas[i] > areas[picked] : areas[i] < areas[picked]) {
                        picked = i;
                    }
                }
                return picked;
            default:
                int index;
                try {
                    index = Integer.parseInt(choice.trim());
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("mask must be best, largest, smallest, 0, 1 or 2, not '"
                            + choice + "'");
                }
                if (index < 0 || index >= n) {
                    throw new IllegalArgumentException("mask " + index + " asked for, but the server returned "
                            + n + " mask(s)");
                }
                return index;
        }
    }

    /**
     * The picker dialog's options, one per mask, e.g. "mask 1: score 0.930, 812 px".
     *
     * @param scores scores
     * @param areas pixel counts
     * @return the options, in mask order
     */
    public static String[] options(float[] scores, long[] areas) {
        String[] options = new String[scores.length];
        for (int i = 0; i < scores.length; i++) {
            options[i] = String.format("mask %d: score %.3f, %d px", i, scores[i], areas[i]);
        }
        return options;
    }

    /**
     * @param option one of {@link #options}
     * @return its mask index
     */
    public static int indexOf(String option) {
        return Integer.parseInt(option.substring("mask ".length(), option.indexOf(':')));
    }

    /**
     * One line per mask for the Log, the picked one marked.
     *
     * @param scores scores
     * @param areas pixel counts
     * @param picked the picked index
     * @return the text
     */
    public static String describe(float[] scores, long[] areas, int picked) {
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < scores.length; i++) {
            text.append(String.format("%n  mask %d: score %.3f, %d px%s", i, scores[i], areas[i],
                    i == picked ? "  <- kept" : ""));
        }
        return text.toString();
    }
}
