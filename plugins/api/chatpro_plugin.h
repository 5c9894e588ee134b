/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ChatPro plugin API: the whole contract between the broker and a plugin.
 *
 * A plugin is a shared library (.so on Linux, .dll on Windows) that exports one
 * symbol, `chatpro_plugin_entry`, returning a descriptor of plain C functions
 * over trivially copyable structs. The broker checks `api_version`, creates one
 * instance per configured use of the plugin with its settings, and asks it for
 * decisions. The broker does every deletion itself; a plugin only sees
 * read-only views of message metadata (and, for the accept hook, the text) and
 * never holds a store, network or HTTP handle.
 *
 * Rules for plugin authors:
 *  - Every function must be noexcept: an exception must never leave the plugin
 *    (catch everything and return CHATPRO_PLUGIN_FAILED). A failure is counted
 *    and logged by the broker, which then keeps the message (retention) or
 *    accepts it (accept hook): failing never deletes or loses anything.
 *  - What the plugin allocates, the plugin frees (`destroy` frees the instance).
 *  - Functions of one instance are called from one thread at a time, but
 *    different instances may be used from different threads.
 *  - Strings are UTF-8, not NUL-terminated: always a pointer and a length.
 *  - Build with hidden visibility and export only `chatpro_plugin_entry`.
 *
 * Versioning: a broker loads plugins whose `api_version` equals
 * CHATPRO_PLUGIN_API_VERSION. New fields are only ever appended to the structs
 * below together with a new version; `struct_size` fields let a plugin built
 * against an older header be recognised.
 */
#ifndef CHATPRO_PLUGIN_H_
#define CHATPRO_PLUGIN_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CHATPRO_PLUGIN_API_VERSION 1

#if defined(_WIN32)
#define CHATPRO_PLUGIN_EXPORT __declspec(dllexport)
#else
#define CHATPRO_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

/* Return codes of every plugin function. */
#define CHATPRO_PLUGIN_OK 0
#define CHATPRO_PLUGIN_FAILED 1

typedef struct chatpro_string {
  const char* data;
  size_t size;
} chatpro_string;

/* One setting from the broker's config file: `key = value` in the plugin's
 * [plugin.NAME] section (other than `library`). */
typedef struct chatpro_setting {
  chatpro_string key;
  chatpro_string value;
} chatpro_setting;

enum chatpro_content_kind {
  CHATPRO_CONTENT_TEXT = 0,
  CHATPRO_CONTENT_VOICE = 1,
  CHATPRO_CONTENT_PICTURE = 2,
  CHATPRO_CONTENT_EDIT = 3,
  CHATPRO_CONTENT_DELETION = 4
};

enum chatpro_conversation_kind { CHATPRO_DIRECT = 0, CHATPRO_GROUP = 1 };

/* A read-only view of one message and its conversation. Valid only during the
 * call it is passed to. */
typedef struct chatpro_message_view {
  uint32_t struct_size; /* sizeof(chatpro_message_view) of the broker */
  uint64_t conversation_id;
  uint64_t seq;
  uint32_t conversation_kind;    /* enum chatpro_conversation_kind */
  chatpro_string conversation_name; /* the group's name; empty for a direct chat */
  uint64_t conversation_head_seq;   /* the newest seq of the conversation */
  uint64_t sender_user_id;
  chatpro_string sender_login;
  int64_t sent_at_us;            /* Unix microseconds */
  uint32_t content_kind;         /* enum chatpro_content_kind */
  chatpro_string text;           /* text or edit; empty otherwise */
  uint64_t attachment_bytes;     /* audio or image + thumbnail; 0 if none or removed */
  uint32_t attachments_removed;  /* 1 if an earlier policy stripped them */
} chatpro_message_view;

enum chatpro_accept_verdict {
  CHATPRO_ACCEPT_ALLOW = 0,  /* store and deliver */
  CHATPRO_ACCEPT_REJECT = 1, /* refuse; the sender sees `reason` */
  CHATPRO_ACCEPT_FLAG = 2    /* store and deliver, and record it for the administrators */
};

typedef struct chatpro_accept_result {
  uint32_t verdict; /* enum chatpro_accept_verdict */
  char reason[256]; /* NUL-terminated, shown to the sender or the administrators */
} chatpro_accept_result;

enum chatpro_retention_verdict {
  CHATPRO_RETAIN_KEEP = 0,
  CHATPRO_RETAIN_DELETE = 1,            /* remove the message (a tombstone stays) */
  CHATPRO_RETAIN_STRIP_ATTACHMENTS = 2  /* keep the text and metadata, remove audio/image */
};

typedef struct chatpro_plugin {
  uint32_t api_version; /* CHATPRO_PLUGIN_API_VERSION */
  const char* name;     /* e.g. "retention-age"; NUL-terminated, static */

  /* Creates an instance from its settings. On failure returns NULL and writes
   * a NUL-terminated reason into `error` (at most error_size bytes). */
  void* (*create)(const chatpro_setting* settings, size_t count, char* error, size_t error_size);
  void (*destroy)(void* instance);

  /* Optional (NULL if the plugin has no accept hook): decides on a message
   * before it is stored. */
  int (*on_accept)(void* instance, const chatpro_message_view* message, int64_t now_us,
                   chatpro_accept_result* result);

  /* Optional (NULL if the plugin makes no retention decisions): decides on a
   * stored message. Several plugins may decide on one message; the broker
   * applies the strongest verdict (delete over strip over keep), unless the
   * message is under a legal hold. */
  int (*retention)(void* instance, const chatpro_message_view* message, int64_t now_us,
                   uint32_t* verdict /* enum chatpro_retention_verdict */);
} chatpro_plugin;

/* The one symbol a plugin exports. */
typedef const chatpro_plugin* (*chatpro_plugin_entry_fn)(void);
CHATPRO_PLUGIN_EXPORT const chatpro_plugin* chatpro_plugin_entry(void);

#ifdef __cplusplus
}
#endif

#endif /* CHATPRO_PLUGIN_H_ */
