use linli_tests::spawn_app;
use serde_json::json;

#[tokio::test]
async fn a_resident_fills_in_their_profile_and_joins_a_unit() {
    let app = spawn_app().await;
    let (community, staff) = app.community_with_staff("阳光社区").await;
    let estate = app
        .add_grid_node(&staff, &community, "estate", "一小区", None)
        .await;
    let building = app
        .add_grid_node(&staff, &community, "building", "3栋", Some(&estate))
        .await;
    let unit = app
        .add_grid_node(&staff, &community, "unit", "2单元", Some(&building))
        .await;

    let me = app.dev_login("elder-1").await;
    let answer = app
        .patch(
            "/me",
            Some(&me.access_token),
            json!({
                "nickname": "张奶奶",
                "birth_date": "1950-03-01",
                "phone": "13812345678",
                "community_id": community,
                "grid_unit_id": unit,
                "address_detail": "3栋2单元501",
                "dietary_notes": "低盐, 软食"
            }),
        )
        .await;
    let body = answer.assert_status(200);
    assert_eq!(body["nickname"], "张奶奶");
    assert_eq!(body["community_id"], json!(community));
    assert_eq!(body["grid_unit_id"], json!(unit));
    assert_eq!(body["phone_masked"], "138****5678");
    assert!(!body.to_string().contains("13812345678"));
    assert!(body["age"].as_u64().unwrap() >= 75);
    assert_eq!(body["dietary_notes"], "低盐, 软食");
    assert_eq!(
        body["care"],
        json!({"lives_alone": false, "empty_nest": false, "hardship": false})
    );

    // A building is not a unit; another community's unit is not one's own.
    app.patch(
        "/me",
        Some(&me.access_token),
        json!({"grid_unit_id": building}),
    )
    .await
    .assert_error(422, "validation_failed");
    app.patch(
        "/me",
        Some(&me.access_token),
        json!({"community_id": "nowhere"}),
    )
    .await
    .assert_error(422, "validation_failed");

    // Moving to another community leaves the unit.
    let admin = app.login_as_admin().await;
    let other = app.create_community(&admin, "月亮社区").await;
    let moved = app
        .patch(
            "/me",
            Some(&me.access_token),
            json!({"community_id": other}),
        )
        .await;
    assert_eq!(moved.assert_status(200)["grid_unit_id"], json!(null));

    // An empty string clears a text field.
    let cleared = app
        .patch("/me", Some(&me.access_token), json!({"phone": ""}))
        .await;
    assert_eq!(cleared.assert_status(200)["phone_masked"], json!(null));
}

#[tokio::test]
async fn profile_input_is_validated_and_changes_nothing() {
    let app = spawn_app().await;
    let me = app.dev_login("p-1").await;
    let cases = [
        (json!({"nickname": ""}), "nickname"),
        (json!({"nickname": "n".repeat(33)}), "nickname"),
        (json!({"phone": "call me"}), "phone"),
        (json!({"birth_date": "1800-01-01"}), "birth_date"),
        (json!({"birth_date": "2999-01-01"}), "birth_date"),
        (json!({"birth_date": "yesterday"}), "birth_date"),
        (json!({"dietary_notes": "盐".repeat(101)}), "dietary_notes"),
        (json!({"address_detail": 5}), "address_detail"),
        (json!({"roles": ["admin"]}), "roles"),
    ];
    for (body, field) in cases {
        let answer = app.patch("/me", Some(&me.access_token), body.clone()).await;
        answer.assert_error(422, "validation_failed");
        assert!(
            answer.body["error"]["details"].get(field).is_some(),
            "{body} names {field}: {:?}",
            answer.body
        );
    }
    let unchanged = app.get("/me", Some(&me.access_token)).await;
    assert_eq!(unchanged.assert_status(200)["phone_masked"], json!(null));
    assert_eq!(unchanged.body["birth_date"], json!(null));
}

#[tokio::test]
async fn parents_register_and_remove_dependents() {
    let app = spawn_app().await;
    let parent = app.dev_login("parent-1").await;
    let created = app
        .post(
            "/me/dependents",
            Some(&parent.access_token),
            json!({"name": "小明", "birth_date": "2018-06-01", "relation": "child"}),
        )
        .await;
    let child = created.assert_status(201).clone();
    assert_eq!(child["relation"], "child");
    assert!(child["age"].as_u64().unwrap() >= 8);

    let list = app.get("/me/dependents", Some(&parent.access_token)).await;
    assert_eq!(
        list.assert_status(200)["items"].as_array().unwrap().len(),
        1
    );

    // Someone else neither sees nor removes it.
    let stranger = app.dev_login("stranger").await;
    let theirs = app
        .get("/me/dependents", Some(&stranger.access_token))
        .await;
    assert_eq!(theirs.assert_status(200)["items"], json!([]));
    let path = format!("/me/dependents/{}", child["id"].as_str().unwrap());
    app.delete(&path, Some(&stranger.access_token))
        .await
        .assert_error(404, "not_found");
    app.delete(&path, Some(&parent.access_token))
        .await
        .assert_status(204);
    let list = app.get("/me/dependents", Some(&parent.access_token)).await;
    assert_eq!(list.assert_status(200)["items"], json!([]));
}

#[tokio::test]
async fn dependent_input_is_validated() {
    let app = spawn_app().await;
    let parent = app.dev_login("parent-2").await;
    let cases = [
        (
            json!({"birth_date": "2018-06-01", "relation": "child"}),
            "name",
        ),
        (
            json!({"name": "", "birth_date": "2018-06-01", "relation": "child"}),
            "name",
        ),
        (
            json!({"name": "小明", "birth_date": "2018-06-01", "relation": "cousin"}),
            "relation",
        ),
        (
            json!({"name": "小明", "birth_date": "2018-13-01", "relation": "child"}),
            "birth_date",
        ),
        (json!({"name": "小明", "relation": "child"}), "birth_date"),
    ];
    for (body, field) in cases {
        let answer = app
            .post("/me/dependents", Some(&parent.access_token), body.clone())
            .await;
        answer.assert_error(422, "validation_failed");
        assert!(
            answer.body["error"]["details"].get(field).is_some(),
            "{body}"
        );
    }
    for i in 0..10 {
        app.post(
            "/me/dependents",
            Some(&parent.access_token),
            json!({"name": format!("孩子{i}"), "birth_date": "2018-06-01", "relation": "child"}),
        )
        .await
        .assert_status(201);
    }
    app.post(
        "/me/dependents",
        Some(&parent.access_token),
        json!({"name": "one too many", "birth_date": "2018-06-01", "relation": "child"}),
    )
    .await
    .assert_error(409, "too_many_dependents");
}

#[tokio::test]
async fn a_risky_nickname_is_refused_by_content_security() {
    use wiremock::{
        Mock, ResponseTemplate,
        matchers::{body_partial_json, method, path},
    };
    let app = spawn_app().await;
    linli_tests::wechat_accepts_everything(&app.wechat).await;
    let verdict = |suggest: &str| {
        ResponseTemplate::new(200).set_body_json(json!({
            "errcode": 0, "result": {"suggest": suggest, "label": 100}, "detail": []
        }))
    };
    Mock::given(method("POST"))
        .and(path("/wxa/msg_sec_check"))
        .and(body_partial_json(
            json!({"content": "坏名字", "scene": 1, "version": 2}),
        ))
        .respond_with(verdict("risky"))
        .mount(&app.wechat)
        .await;
    Mock::given(method("POST"))
        .and(path("/wxa/msg_sec_check"))
        .respond_with(verdict("pass"))
        .with_priority(10)
        .mount(&app.wechat)
        .await;
    let me = app.dev_login("nick").await;
    app.patch("/me", Some(&me.access_token), json!({"nickname": "坏名字"}))
        .await
        .assert_error(422, "content_rejected");
    let unchanged = app.get("/me", Some(&me.access_token)).await;
    assert_ne!(unchanged.assert_status(200)["nickname"], "坏名字");
    let ok = app
        .patch("/me", Some(&me.access_token), json!({"nickname": "好邻居"}))
        .await;
    assert_eq!(ok.assert_status(200)["nickname"], "好邻居");
}
