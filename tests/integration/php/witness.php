<?php
// A second witness beside X-WP-Total: counts of what an anonymous REST client may read, queried
// from WordPress's own database with WordPress's rules, plus the titles as WordPress renders them.
require __DIR__ . '/bootstrap.php';
global $wpdb;

$rest_types = get_post_types(array('show_in_rest' => true), 'names');
$readable_parent = "(p.post_parent = 0 OR EXISTS (SELECT 1 FROM {$wpdb->posts} parent
    WHERE parent.ID = p.post_parent AND parent.post_status = 'publish'))";

$counts = array(
    'post' => (int) $wpdb->get_var("SELECT COUNT(*) FROM {$wpdb->posts} WHERE post_type = 'post' AND post_status = 'publish'"),
    'page' => (int) $wpdb->get_var("SELECT COUNT(*) FROM {$wpdb->posts} WHERE post_type = 'page' AND post_status = 'publish'"),
    // Attachments inherit their parent's status: those of drafts are not readable.
    'media' => (int) $wpdb->get_var("SELECT COUNT(*) FROM {$wpdb->posts} p WHERE p.post_type = 'attachment'
        AND p.post_status = 'inherit' AND $readable_parent"),
    'category' => (int) wp_count_terms(array('taxonomy' => 'category', 'hide_empty' => false)),
    'post_tag' => (int) wp_count_terms(array('taxonomy' => 'post_tag', 'hide_empty' => false)),
    // Users who have published something in a post type shown in REST.
    'users' => count(get_users(array('has_published_posts' => array_values($rest_types), 'fields' => 'ID'))),
    // Approved comments (not pingbacks) on posts an anonymous visitor may read.
    'comments' => (int) $wpdb->get_var("SELECT COUNT(*) FROM {$wpdb->comments} c
        JOIN {$wpdb->posts} p ON p.ID = c.comment_post_ID
        WHERE c.comment_approved = '1' AND c.comment_type = 'comment' AND (
            (p.post_status = 'publish' AND p.post_password = '')
            OR (p.post_type = 'attachment' AND p.post_status = 'inherit' AND $readable_parent))"),
);

// The REST controller renders titles without the "Protected: " and "Private: " prefixes.
add_filter('protected_title_format', function () { return '%s'; });
add_filter('private_title_format', function () { return '%s'; });
$titles = array();
$rows = $wpdb->get_results("SELECT ID FROM {$wpdb->posts} WHERE post_type IN ('post', 'page') AND post_status = 'publish'");
foreach ($rows as $row) {
    $titles[$row->ID] = get_the_title((int) $row->ID);
}
$sticky = array_map('intval', get_option('sticky_posts') ?: array());
$protected = array_map('intval', $wpdb->get_col("SELECT ID FROM {$wpdb->posts}
    WHERE post_status = 'publish' AND post_password <> ''"));
$hidden = array_map('intval', $wpdb->get_col("SELECT ID FROM {$wpdb->posts}
    WHERE post_type IN ('post', 'page') AND post_status IN ('draft', 'future', 'private', 'pending')"));
$category_parents = array();
foreach (get_terms(array('taxonomy' => 'category', 'hide_empty' => false)) as $term) {
    $category_parents[$term->term_id] = $term->parent;
}
$comment_parents = array();
foreach ($wpdb->get_results("SELECT comment_ID, comment_parent FROM {$wpdb->comments} WHERE comment_parent > 0") as $c) {
    $comment_parents[$c->comment_ID] = (int) $c->comment_parent;
}
echo json_encode(array(
    'counts' => $counts,
    'titles' => $titles,
    'sticky' => $sticky,
    'protected' => $protected,
    'hidden' => $hidden,
    'category_parents' => $category_parents,
    'comment_parents' => $comment_parents,
    'version' => get_bloginfo('version'),
)), "\n";
