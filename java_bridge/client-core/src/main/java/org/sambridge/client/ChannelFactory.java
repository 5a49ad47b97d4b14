package org.sambridge.client;

import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;

/** Creates the Netty gRPC channel to a SAMBridge server. */
public final class ChannelFactory {
    /** Largest message accepted from the server (label volumes can be big). */
    public static final int MAX_INBOUND_BYTES = 256 * 1024 * 1024;

    private ChannelFactory() {
    }

    /**
     * Opens a channel (lazily: no connection is made until the first call).
     *
     * @param address "host:port", optionally prefixed with "http://" or "https://"
     * @param useTls use TLS (the JDK's trust store)
     * @return the channel
     */
    public static ManagedChannel open(String address, boolean useTls) {
        NettyChannelBuilder builder = NettyChannelBuilder.forTarget(stripScheme(address))
                .maxInboundMessageSize(MAX_INBOUND_BYTES)
                .maxInboundMetadataSize(64 * 1024);
        if (useTls) {
            builder.useTransportSecurity();
        } else {
            builder.usePlaintext();
        }
        return builder.build();
    }

    /**
     * @param address an address with or without scheme
     * @return "host:port"
     */
    static String stripScheme(String address) {
        String trimmed = address.trim();
        int scheme = trimmed.indexOf("://");
        String rest = scheme >= 0 ? trimmed.substring(scheme + 3) : trimmed;
        return rest.endsWith("/") ? rest.substring(0, rest.length() - 1) : rest;
    }

    /**
     * @param channel a channel
     * @param token bearer token; null or empty means no authentication
     * @return the channel with the token interceptor when needed
     */
    static io.grpc.Channel withToken(ManagedChannel channel, String token) {
        if (token == null || token.isEmpty()) {
            return channel;
        }
        return ClientInterceptors.intercept(channel, new BearerTokenInterceptor(token));
    }
}
