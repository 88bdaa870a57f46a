<?php
/*
 * Test only: lets this WordPress fetch from other loopback ports, as the importer does when it
 * downloads attachments from the site the WXR came from. wp_safe_remote_get() refuses 127.0.0.0/8
 * (http_request_host_is_external) and any port but 80, 443, 8080 and the site's own
 * (http_allowed_safe_ports). Other hosts stay refused, and WP_HTTP_BLOCK_EXTERNAL stays on.
 */
function wparchive_tests_is_loopback($host) {
    return (bool) preg_match('/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/', (string) $host);
}
add_filter('http_request_host_is_external', function ($external, $host) {
    return $external || wparchive_tests_is_loopback($host);
}, 10, 2);
add_filter('http_allowed_safe_ports', function ($ports, $host, $url) {
    $port = parse_url($url, PHP_URL_PORT);
    if ($port && wparchive_tests_is_loopback($host)) {
        $ports[] = $port;
    }
    return $ports;
}, 10, 3);
