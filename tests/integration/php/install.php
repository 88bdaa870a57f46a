<?php
// wp_install() with a theme of ours and the site's options; argv[2] is the site title.
define('WP_INSTALLING', true);
// Pluggable: installation would otherwise try to send an e-mail.
function wp_new_blog_notification() {}
require __DIR__ . '/bootstrap.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
$result = wp_install($argv[2], 'admin', 'admin@example.org', true, '', 'password');
update_option('template', 'wparchive-test');
update_option('stylesheet', 'wparchive-test');
update_option('timezone_string', 'Europe/Berlin');
update_option('posts_per_page', 10);
echo json_encode(array('admin' => $result['user_id'])), "\n";
