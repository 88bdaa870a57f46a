<?php
// WordPress's own exporter (Tools → Export → All content) writing the WXR to a file: argv[2].
// export_wp() sends download headers and echoes the document; output buffering keeps the document.
require __DIR__ . '/bootstrap.php';
require_once ABSPATH . 'wp-admin/includes/export.php';
wp_set_current_user(1);
ob_start();
export_wp(array('content' => 'all'));
$wxr = ob_get_clean();
if (file_put_contents($argv[2], $wxr) === false) {
    fwrite(STDERR, "cannot write {$argv[2]}\n");
    exit(2);
}
echo json_encode(array('bytes' => strlen($wxr), 'items' => substr_count($wxr, '<item>'))), "\n";
