<?php
// Changes content between two harvests, as an editor would: argv[2] is JSON such as
// {"edit": [ids], "delete": [ids], "unpublish": [ids], "add": n}. Prints the ids it added.
require __DIR__ . '/bootstrap.php';
wp_set_current_user(1);
$plan = json_decode($argv[2], true);
$added = array();
foreach ($plan['edit'] ?? array() as $id) {
    $post = get_post($id);
    wp_update_post(wp_slash(array('ID' => $id, 'post_content' => $post->post_content . "\n<p>Edited between harvests.</p>")));
}
foreach ($plan['delete'] ?? array() as $id) {
    wp_delete_post($id, true);
}
foreach ($plan['unpublish'] ?? array() as $id) {
    wp_update_post(array('ID' => $id, 'post_status' => 'draft'));
}
for ($n = 1; $n <= ($plan['add'] ?? 0); $n++) {
    $added[] = wp_insert_post(wp_slash(array(
        'post_title' => "Added between harvests $n",
        'post_content' => "<p>A new post, number $n.</p>",
        'post_status' => 'publish',
        'post_author' => 1,
    )));
}
echo json_encode(array('added' => $added)), "\n";
