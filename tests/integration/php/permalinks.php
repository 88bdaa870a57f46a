<?php
// Switches permalinks: argv[2] is a structure such as /%year%/%monthnum%/%postname%/, or "" for plain.
require __DIR__ . '/bootstrap.php';
global $wp_rewrite;
$wp_rewrite->set_permalink_structure($argv[2]);
$wp_rewrite->flush_rules(false);
echo json_encode(array('permalink_structure' => get_option('permalink_structure'))), "\n";
