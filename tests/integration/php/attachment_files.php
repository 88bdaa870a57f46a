<?php
// Gives every attachment a file where WordPress says it is, so that another site can fetch it
// (the corpus names files on wpthemetestdata.files.wordpress.com, which the tests never reach).
// Images get a one-pixel picture of their type, so that getimagesize() accepts them; other
// types get a few binary bytes, which fileinfo calls application/octet-stream and WordPress
// accepts for audio and video (text would be refused as not of the file's type). Files already there are left alone. Prints how many it wrote.
require __DIR__ . '/bootstrap.php';
$pixels = array(
    'image/jpeg' => '/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////////////////////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQABPxA=',
    'image/gif' => 'R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==',
    'image/png' => 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
);
$written = 0;
foreach (get_posts(array('post_type' => 'attachment', 'post_status' => 'any', 'numberposts' => -1)) as $attachment) {
    $file = get_attached_file($attachment->ID);
    if (!$file || file_exists($file)) {
        continue;
    }
    wp_mkdir_p(dirname($file));
    $mime = get_post_mime_type($attachment);
    $bytes = isset($pixels[$mime]) ? base64_decode($pixels[$mime]) : "\x00\x01\x02\x03placeholder\x00\xff";
    $written += file_put_contents($file, $bytes) !== false ? 1 : 0;
}
echo json_encode(array('written' => $written)), "\n";
