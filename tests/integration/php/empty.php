<?php
// Empties a fresh install for an import: wp_install()'s sample post, page, draft privacy page and
// comment go, so that the site holds only what is imported into it.
require __DIR__ . '/bootstrap.php';
global $wpdb;
$removed = array('posts' => 0, 'comments' => 0);
foreach ($wpdb->get_col("SELECT comment_ID FROM {$wpdb->comments}") as $id) {
    $removed['comments'] += wp_delete_comment((int) $id, true) ? 1 : 0;
}
foreach ($wpdb->get_col("SELECT ID FROM {$wpdb->posts}") as $id) {
    $removed['posts'] += wp_delete_post((int) $id, true) ? 1 : 0;
}
update_option('wp_page_for_privacy_policy', 0);
echo json_encode($removed), "\n";
