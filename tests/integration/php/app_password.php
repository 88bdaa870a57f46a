<?php
// Creates an application password for the administrator; prints the user name and the password.
require __DIR__ . '/bootstrap.php';
$user = get_user_by('id', 1);
list($password) = WP_Application_Passwords::create_new_application_password(1, array('name' => 'wparchive tests'));
echo json_encode(array('user' => $user->user_login, 'password' => $password)), "\n";
