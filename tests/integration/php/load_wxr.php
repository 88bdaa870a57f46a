<?php
// Loads a WXR export (argv[2]) into WordPress: authors, categories with their hierarchy, tags,
// posts, pages and attachments (records only) with their original ids, sticky and
// password-protected posts, post formats, and threaded comments. Prints what it made as JSON.
require __DIR__ . '/bootstrap.php';
require_once ABSPATH . 'wp-admin/includes/post.php';

wp_set_current_user(1);  // as the importer does: an administrator may post unfiltered HTML
wp_defer_term_counting(true);
wp_defer_comment_counting(true);

$xml = simplexml_load_file($argv[2], 'SimpleXMLElement', LIBXML_NOCDATA | LIBXML_PARSEHUGE);
if ($xml === false) {
    fwrite(STDERR, "cannot parse {$argv[2]}\n");
    exit(2);
}
$ns = $xml->getNamespaces(true);
$wp_ns = $ns['wp'];
$channel = $xml->channel;
$wp = $channel->children($wp_ns);
$made = array('users' => 0, 'categories' => 0, 'tags' => 0, 'posts' => array(), 'comments' => 0, 'skipped' => array(), 'failed' => array());

function text($node) {
    return trim((string) $node);
}

// Authors.
$user_ids = array();
foreach ($wp->author as $author) {
    $login = text($author->author_login);
    $id = username_exists($login);
    if (!$id) {
        $id = wp_insert_user(array(
            'user_login' => $login,
            'user_email' => text($author->author_email) ?: "$login@example.org",
            'display_name' => text($author->author_display_name) ?: $login,
            'first_name' => text($author->author_first_name),
            'last_name' => text($author->author_last_name),
            'user_pass' => wp_generate_password(),
            'role' => 'author',
        ));
        $made['users']++;
    }
    $user_ids[$login] = $id;
}

// Terms: parents are named by slug and may come after their children, so loop until done.
function insert_terms($pending, $taxonomy, &$count) {
    while ($pending) {
        $progress = false;
        foreach ($pending as $slug => $term) {
            $parent = 0;
            if ($term['parent'] !== '') {
                $found = get_term_by('slug', $term['parent'], $taxonomy);
                if (!$found) {
                    continue;
                }
                $parent = $found->term_id;
            }
            if (!get_term_by('slug', $slug, $taxonomy)) {
                $result = wp_insert_term($term['name'], $taxonomy, array(
                    'slug' => $slug, 'parent' => $parent, 'description' => $term['description'],
                ));
                if (!is_wp_error($result)) {
                    $count++;
                }
            }
            unset($pending[$slug]);
            $progress = true;
        }
        if (!$progress) {
            break;  // an unknown parent: leave those terms out
        }
    }
}
$categories = array();
foreach ($wp->category as $category) {
    $categories[text($category->category_nicename)] = array(
        'name' => text($category->cat_name), 'parent' => text($category->category_parent),
        'description' => text($category->category_description),
    );
}
insert_terms($categories, 'category', $made['categories']);
$tags = array();
foreach ($wp->tag as $tag) {
    $tags[text($tag->tag_slug)] = array(
        'name' => text($tag->tag_name), 'parent' => '', 'description' => text($tag->tag_description),
    );
}
insert_terms($tags, 'post_tag', $made['tags']);

// Items, with their original ids (import_id) so that parents and links keep meaning.
$comment_ids = array();
$comment_parents = array();
$parents = array();
$sticky = array();
foreach ($channel->item as $item) {
    $post = $item->children($wp_ns);
    $type = text($post->post_type);
    $id = (int) text($post->post_id);
    if (!in_array($type, array('post', 'page', 'attachment'), true)) {
        $made['skipped'][$type] = ($made['skipped'][$type] ?? 0) + 1;
        continue;
    }
    $content = $item->children($ns['content']);
    $excerpt = $item->children($ns['excerpt']);
    $dc = $item->children($ns['dc']);
    $postarr = array(
        'import_id' => $id,
        'post_type' => $type,
        'post_title' => (string) $item->title,
        'post_content' => (string) $content->encoded,
        'post_excerpt' => (string) $excerpt->encoded,
        'post_status' => text($post->status),
        'post_name' => text($post->post_name),
        'post_date' => text($post->post_date),
        'post_date_gmt' => text($post->post_date_gmt),
        'post_author' => $user_ids[text($dc->creator)] ?? 1,
        'comment_status' => text($post->comment_status),
        'ping_status' => text($post->ping_status),
        'menu_order' => (int) text($post->menu_order),
        'post_password' => text($post->post_password),
        'guid' => text($item->guid),
    );
    if ($type === 'attachment') {
        $url = text($post->attachment_url);
        $postarr['post_mime_type'] = wp_check_filetype(basename(parse_url($url, PHP_URL_PATH)))['type'] ?: 'application/octet-stream';
        $postarr['post_status'] = 'inherit';
        $new_id = wp_insert_attachment($postarr, false, 0, true);
        if (!is_wp_error($new_id)) {
            update_post_meta($new_id, '_wp_attached_file', ltrim(parse_url($url, PHP_URL_PATH), '/'));
        }
    } else {
        $new_id = wp_insert_post(wp_slash($postarr), true);
    }
    if (is_wp_error($new_id)) {
        $made['failed'][] = "$type $id: " . $new_id->get_error_message();
        continue;
    }
    $made['posts'][$type] = ($made['posts'][$type] ?? 0) + 1;
    $parents[$new_id] = (int) text($post->post_parent);
    if (text($post->is_sticky) === '1') {
        $sticky[] = $new_id;
    }
    $by_taxonomy = array();
    foreach ($item->category as $category) {
        $attributes = $category->attributes();
        $by_taxonomy[(string) $attributes['domain']][] = (string) $attributes['nicename'];
    }
    foreach ($by_taxonomy as $taxonomy => $slugs) {
        if ($taxonomy === 'post_format') {
            set_post_format($new_id, str_replace('post-format-', '', $slugs[0]));
            continue;
        }
        if (!taxonomy_exists($taxonomy)) {
            continue;
        }
        $ids = array();
        foreach ($slugs as $slug) {
            $term = get_term_by('slug', $slug, $taxonomy);
            if (!$term) {
                $inserted = wp_insert_term($slug, $taxonomy, array('slug' => $slug));
                $term = is_wp_error($inserted) ? null : get_term($inserted['term_id'], $taxonomy);
            }
            if ($term) {
                $ids[] = (int) $term->term_id;
            }
        }
        wp_set_post_terms($new_id, $ids, $taxonomy);
    }
    foreach ($post->postmeta as $meta) {
        if (text($meta->meta_key) === '_thumbnail_id') {
            update_post_meta($new_id, '_thumbnail_id', (int) text($meta->meta_value));
        }
    }
    foreach ($post->comment as $comment) {
        $old = (int) text($comment->comment_id);
        $new_comment = wp_insert_comment(wp_slash(array(
            'comment_post_ID' => $new_id,
            'comment_author' => text($comment->comment_author),
            'comment_author_email' => text($comment->comment_author_email),
            'comment_author_url' => text($comment->comment_author_url),
            'comment_date' => text($comment->comment_date),
            'comment_date_gmt' => text($comment->comment_date_gmt),
            'comment_content' => (string) $comment->comment_content,
            'comment_approved' => text($comment->comment_approved),
            'comment_type' => text($comment->comment_type) ?: 'comment',
            'user_id' => (int) text($comment->comment_user_id),
        )));
        if ($new_comment) {
            $comment_ids[$old] = $new_comment;
            $comment_parents[$new_comment] = (int) text($comment->comment_parent);
            $made['comments']++;
        }
    }
}

// Second pass: parents, now that every item and comment exists.
global $wpdb;
foreach ($parents as $id => $parent) {
    if ($parent && get_post($parent)) {
        $wpdb->update($wpdb->posts, array('post_parent' => $parent), array('ID' => $id));
    }
}
foreach ($comment_parents as $id => $old_parent) {
    if ($old_parent && isset($comment_ids[$old_parent])) {
        $wpdb->update($wpdb->comments, array('comment_parent' => $comment_ids[$old_parent]), array('comment_ID' => $id));
    }
}
foreach ($sticky as $id) {
    stick_post($id);
}
wp_defer_term_counting(false);
wp_defer_comment_counting(false);
clean_post_cache(0);
wp_cache_flush();
echo json_encode($made), "\n";
