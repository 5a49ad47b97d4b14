package org.sambridge.client;

import io.grpc.Channel;
import io.grpc.StatusRuntimeException;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.sambridge.v1.Job;
import org.sambridge.v1.JobEvent;
import org.sambridge.v1.JobRef;
import org.sambridge.v1.JobState;
import org.sambridge.v1.ListJobsRequest;
import org.sambridge.v1.StartTrainingRequest;
import org.sambridge.v1.TrainingProgress;
import org.sambridge.v1.TrainingServiceGrpc;

/**
 * Finetuning jobs on the server (TrainingService): start one, follow its progress until it
 * ends, cancel it, list the caller's jobs. A job runs on the server whether or not this client
 * stays connected; when it succeeds its output model is served like any other.
 */
public final class TrainingJobs {
    /** Receives a job's events while {@link #watch} follows it. */
    public interface Listener {
        /**
         * @param progress one training progress event (losses empty at an epoch's end)
         */
        void onProgress(TrainingProgress progress);

        /**
         * Polled between events and every 100 ms; true cancels the job on the server.
         *
         * @return true to cancel
         */
        default boolean isCancelled() {
            return false;
        }
    }

    private final TrainingServiceGrpc.TrainingServiceBlockingStub stub;
    private final long timeoutMs;
    private final long longTimeoutMs;

    TrainingJobs(Channel channel, long timeoutMs, long longTimeoutMs) {
        this.stub = TrainingServiceGrpc.newBlockingStub(channel);
        this.timeoutMs = timeoutMs;
        this.longTimeoutMs = longTimeoutMs;
    }

    /**
     * @param request output model, base model, (image, labels) pairs, budget
     * @return the queued job
     */
    public Job start(StartTrainingRequest request) {
        try {
            return stub.withDeadlineAfter(timeoutMs, TimeUnit.MILLISECONDS).startTraining(request);
        } catch (StatusRuntimeException e) {
            throw SamBridgeException.from("StartTraining", e);
        }
    }

    /**
     * Follows a job until it ends (SUCCEEDED, FAILED or CANCELLED); when the listener asks to
     * cancel, the job is cancelled on the server and followed to its end.
     *
     * @param jobId the job
     * @param listener progress receiver (may be null)
     * @return the job's final state
     */
    public Job watch(String jobId, Listener listener) {
        JobRef ref = JobRef.newBuilder().setJobId(jobId).build();
        ProgressListener poll = new ProgressListener() {
            @Override
            public void onProgress(String stage, long done, long total, String message) {
            }

            @Override
            public boolean isCancelled() {
                return listener != null && listener.isCancelled();
            }
        };
        Job[] last = {null};
        try {
            return StreamingCall.run("WatchJob", () -> endAtFinalState(stub.withDeadlineAfter(longTimeoutMs,
                    TimeUnit.MILLISECONDS).watchJob(ref), listener, last), e -> null,
                    e -> e.hasJob() && isFinal(e.getJob().getState()) ? e.getJob() : null, poll);
        } catch (SamBridgeException e) {
            if (e.code() == io.grpc.Status.Code.CANCELLED && listener != null && listener.isCancelled()) {
                return cancel(jobId);
            }
            throw e;
        }
    }

    /** Forwards progress events to the listener as they pass. */
    private static Iterator<JobEvent> endAtFinalState(Iterator<JobEvent> events, Listener listener, Job[] last) {
        return new Iterator<JobEvent>() {
            @Override
            public boolean hasNext() {
                return (last[0] == null || !isFinal(last[0].getState())) && events.hasNext();
            }

            @Override
            public JobEvent next() {
                JobEvent event = events.next();
                if (event.hasProgress() && listener != null) {
                    listener.onProgress(event.getProgress());
                }
                if (event.hasJob()) {
                    last[0] = event.getJob();
                }
                return event;
            }
        };
    }

    /**
     * @param state a job state
     * @return true for SUCCEEDED, FAILED and CANCELLED
     */
    public static boolean isFinal(JobState state) {
        return state == JobState.SUCCEEDED || state == JobState.FAILED || state == JobState.CANCELLED;
    }

    /**
     * @param jobId the job
     * @return its state after the cancel request
     */
    public Job cancel(String jobId) {
        try {
            return stub.withDeadlineAfter(timeoutMs, TimeUnit.MILLISECONDS)
                    .cancelJob(JobRef.newBuilder().setJobId(jobId).build());
        } catch (StatusRuntimeException e) {
            throw SamBridgeException.from("CancelJob", e);
        }
    }

    /** @return this caller's jobs */
    public List<Job> list() {
        try {
            return stub.withDeadlineAfter(timeoutMs, TimeUnit.MILLISECONDS)
                    .listJobs(ListJobsRequest.getDefaultInstance()).getJobsList();
        } catch (StatusRuntimeException e) {
            throw SamBridgeException.from("ListJobs", e);
        }
    }
}
