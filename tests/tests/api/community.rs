use linli_tests::spawn_app;
use serde_json::json;

#[tokio::test]
async fn only_admins_create_communities_and_anyone_reads_them() {
    let app = spawn_app().await;
    let admin = app.login_as_admin().await;
    let resident = app.dev_login("r-1").await;

    app.post(
        "/communities",
        Some(&resident.access_token),
        json!({"name": "x"}),
    )
    .await
    .assert_error(403, "forbidden");
    app.post("/communities", None, json!({"name": "x"}))
        .await
        .assert_error(401, "unauthorized");
    let created = app
        .post(
            "/communities",
            Some(&admin.access_token),
            json!({"name": "阳光社区", "timezone": "Asia/Urumqi"}),
        )
        .await;
    let body = created.assert_status(201).clone();
    assert_eq!(body["timezone"], "Asia/Urumqi");
    assert_eq!(body["settings"]["free_meal_day"], 8);
    assert_eq!(body["settings"]["wish_review"], "manual");

    let id = body["id"].as_str().unwrap();
    app.get(&format!("/communities/{id}"), None)
        .await
        .assert_status(200);
    app.get("/communities/nope", None)
        .await
        .assert_error(404, "not_found");
    let list = app.get("/communities", None).await;
    assert_eq!(
        list.assert_status(200)["items"].as_array().unwrap().len(),
        1
    );

    app.post(
        "/communities",
        Some(&admin.access_token),
        json!({"name": "x", "timezone": "Mars/Olympus"}),
    )
    .await
    .assert_error(422, "validation_failed");
}

#[tokio::test]
async fn communities_page_with_a_cursor() {
    let app = spawn_app().await;
    let admin = app.login_as_admin().await;
    for i in 0..5 {
        app.create_community(&admin, &format!("社区{i}")).await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/communities?limit=2&cursor={c}"),
            None => "/communities?limit=2".to_owned(),
        };
        let page = app.get(&path, None).await;
        let body = page.assert_status(200);
        for item in body["items"].as_array().unwrap() {
            seen.push(item["name"].as_str().unwrap().to_owned());
        }
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ["社区0", "社区1", "社区2", "社区3", "社区4"]);
    app.get("/communities?limit=0", None)
        .await
        .assert_error(422, "validation_failed");
    app.get("/communities?limit=101", None)
        .await
        .assert_error(422, "validation_failed");
    app.get("/communities?limit=ten", None)
        .await
        .assert_error(400, "bad_request");
    app.get("/communities?cursor=%%%", None)
        .await
        .assert_error(400, "bad_request");
}

#[tokio::test]
async fn staff_change_settings_and_others_cannot() {
    let app = spawn_app().await;
    let (community, staff) = app.community_with_staff("a").await;
    let (_, other_staff) = app.community_with_staff("b").await;
    let resident = app.resident_of(&community, "r-2").await;
    let path = format!("/communities/{community}/settings");

    let changed = app
        .patch(
            &path,
            Some(&staff.access_token),
            json!({"wish_review": "auto", "claim_ttl_hours": 24}),
        )
        .await;
    let body = changed.assert_status(200);
    assert_eq!(body["settings"]["wish_review"], "auto");
    assert_eq!(body["settings"]["claim_ttl_hours"], 24);
    assert_eq!(body["settings"]["elder_age"], 60);

    app.patch(
        &path,
        Some(&resident.access_token),
        json!({"claim_ttl_hours": 1}),
    )
    .await
    .assert_error(403, "forbidden");
    app.patch(
        &path,
        Some(&other_staff.access_token),
        json!({"claim_ttl_hours": 1}),
    )
    .await
    .assert_error(404, "not_found");
    for bad in [
        json!({"claim_ttl_hours": 0}),
        json!({"free_meal_day": 31}),
        json!({"wish_review": "sometimes"}),
        json!({"max_active_enrollments": -1}),
        json!({"no_such_setting": 1}),
    ] {
        app.patch(&path, Some(&staff.access_token), bad.clone())
            .await
            .assert_error(422, "validation_failed");
    }
    let unchanged = app.get(&format!("/communities/{community}"), None).await;
    assert_eq!(
        unchanged.assert_status(200)["settings"]["claim_ttl_hours"],
        24
    );
}

#[tokio::test]
async fn the_grid_is_a_tree_of_estates_buildings_and_units() {
    let app = spawn_app().await;
    let (community, staff) = app.community_with_staff("grid").await;
    let estate = app
        .add_grid_node(&staff, &community, "estate", "一小区", None)
        .await;
    let building = app
        .add_grid_node(&staff, &community, "building", "1栋", Some(&estate))
        .await;
    app.add_grid_node(&staff, &community, "unit", "1单元", Some(&building))
        .await;
    app.add_grid_node(&staff, &community, "unit", "2单元", Some(&building))
        .await;

    let grid_path = format!("/communities/{community}/grid");
    for bad in [
        json!({"kind": "unit", "name": "x", "parent_id": estate}),
        json!({"kind": "building", "name": "x"}),
        json!({"kind": "estate", "name": "x", "parent_id": building}),
        json!({"kind": "building", "name": "x", "parent_id": "nope"}),
        json!({"kind": "floor", "name": "x"}),
        json!({"kind": "estate", "name": ""}),
    ] {
        app.post(&grid_path, Some(&staff.access_token), bad.clone())
            .await
            .assert_error(422, "validation_failed");
    }

    let resident = app.resident_of(&community, "r-3").await;
    app.post(
        &grid_path,
        Some(&resident.access_token),
        json!({"kind": "estate", "name": "x"}),
    )
    .await
    .assert_error(403, "forbidden");

    let tree = app.get(&grid_path, Some(&resident.access_token)).await;
    let tree = tree.assert_status(200);
    assert_eq!(tree.as_array().unwrap().len(), 1);
    assert_eq!(tree[0]["name"], "一小区");
    assert_eq!(tree[0]["children"][0]["name"], "1栋");
    let units: Vec<_> = tree[0]["children"][0]["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(units, ["1单元", "2单元"]);
}

#[tokio::test]
async fn roles_are_granted_by_the_right_people_and_apply_at_once() {
    let app = spawn_app().await;
    let admin = app.login_as_admin().await;
    let (community, staff) = app.community_with_staff("roles").await;
    let (_, other_staff) = app.community_with_staff("elsewhere").await;
    let estate = app
        .add_grid_node(&staff, &community, "estate", "e", None)
        .await;
    let resident = app.resident_of(&community, "r-4").await;
    let outsider = app.dev_login("outsider").await;

    // Staff cannot make staff; only the admin can.
    app.grant(&staff, &community, &resident, "staff", json!({}))
        .await
        .assert_error(403, "forbidden");
    app.grant(&resident, &community, &resident, "partner", json!({}))
        .await
        .assert_error(403, "forbidden");
    app.grant(&other_staff, &community, &resident, "partner", json!({}))
        .await
        .assert_error(404, "not_found");
    // The user must have joined the community.
    app.grant(&staff, &community, &outsider, "partner", json!({}))
        .await
        .assert_error(404, "not_found");
    // A grid leader leads a node of this community.
    app.grant(&staff, &community, &resident, "grid_leader", json!({}))
        .await
        .assert_error(422, "validation_failed");
    app.grant(
        &staff,
        &community,
        &resident,
        "grid_leader",
        json!({"grid_node_id": "nope"}),
    )
    .await
    .assert_error(422, "validation_failed");
    app.grant(&staff, &community, &resident, "wizard", json!({}))
        .await
        .assert_error(404, "not_found");
    app.grant(&staff, &community, &resident, "admin", json!({}))
        .await
        .assert_error(422, "validation_failed");

    // An empty body is fine, and granting twice is the same as once.
    let path = format!(
        "/communities/{community}/members/{}/roles/partner",
        resident.user_id
    );
    let empty = app
        .send(
            app.http
                .put(app.url(&path))
                .bearer_auth(&staff.access_token),
        )
        .await;
    empty.assert_status(204);
    app.grant(&staff, &community, &resident, "partner", json!({}))
        .await
        .assert_status(204);
    app.grant(
        &staff,
        &community,
        &resident,
        "grid_leader",
        json!({"grid_node_id": estate}),
    )
    .await
    .assert_status(204);
    let me = app.get("/me", Some(&resident.access_token)).await;
    assert_eq!(
        me.assert_status(200)["roles"],
        json!(["resident", "partner", "grid_leader"])
    );

    // Made staff by the admin, the same token can act as staff at once.
    app.grant(&admin, &community, &resident, "staff", json!({}))
        .await
        .assert_status(204);
    app.patch(
        &format!("/communities/{community}/settings"),
        Some(&resident.access_token),
        json!({"elder_age": 65}),
    )
    .await
    .assert_status(200);

    app.delete(
        &format!(
            "/communities/{community}/members/{}/roles/staff",
            resident.user_id
        ),
        Some(&admin.access_token),
    )
    .await
    .assert_status(204);
    app.patch(
        &format!("/communities/{community}/settings"),
        Some(&resident.access_token),
        json!({"elder_age": 66}),
    )
    .await
    .assert_error(403, "forbidden");
}

#[tokio::test]
async fn care_flags_are_set_by_staff_or_the_members_grid_leader() {
    let app = spawn_app().await;
    let (community, staff) = app.community_with_staff("care").await;
    let (_, other_staff) = app.community_with_staff("care-elsewhere").await;
    let estate = app
        .add_grid_node(&staff, &community, "estate", "e", None)
        .await;
    let building_a = app
        .add_grid_node(&staff, &community, "building", "A", Some(&estate))
        .await;
    let building_b = app
        .add_grid_node(&staff, &community, "building", "B", Some(&estate))
        .await;
    let unit_a = app
        .add_grid_node(&staff, &community, "unit", "A1", Some(&building_a))
        .await;

    let elder = app.resident_of(&community, "elder").await;
    app.patch(
        "/me",
        Some(&elder.access_token),
        json!({"grid_unit_id": unit_a}),
    )
    .await
    .assert_status(200);
    let leader_a = app.resident_of(&community, "leader-a").await;
    let leader_b = app.resident_of(&community, "leader-b").await;
    let leader_estate = app.resident_of(&community, "leader-e").await;
    for (leader, node) in [
        (&leader_a, &building_a),
        (&leader_b, &building_b),
        (&leader_estate, &estate),
    ] {
        app.grant(
            &staff,
            &community,
            leader,
            "grid_leader",
            json!({"grid_node_id": node}),
        )
        .await
        .assert_status(204);
    }
    let neighbour = app.resident_of(&community, "neighbour").await;
    let path = format!("/communities/{community}/members/{}/care", elder.user_id);

    let set = app
        .patch(
            &path,
            Some(&leader_a.access_token),
            json!({"lives_alone": true}),
        )
        .await;
    assert_eq!(
        set.assert_status(200)["care"],
        json!({"lives_alone": true, "empty_nest": false, "hardship": false})
    );
    let set = app
        .patch(
            &path,
            Some(&leader_estate.access_token),
            json!({"empty_nest": true}),
        )
        .await;
    assert_eq!(
        set.assert_status(200)["care"],
        json!({"lives_alone": true, "empty_nest": true, "hardship": false})
    );
    let set = app
        .patch(&path, Some(&staff.access_token), json!({"hardship": true}))
        .await;
    assert_eq!(set.assert_status(200)["care"]["hardship"], true);

    app.patch(
        &path,
        Some(&leader_b.access_token),
        json!({"hardship": false}),
    )
    .await
    .assert_error(403, "forbidden");
    app.patch(
        &path,
        Some(&neighbour.access_token),
        json!({"hardship": false}),
    )
    .await
    .assert_error(403, "forbidden");
    app.patch(
        &path,
        Some(&other_staff.access_token),
        json!({"hardship": false}),
    )
    .await
    .assert_error(404, "not_found");
    app.patch(&path, Some(&staff.access_token), json!({"hardship": "yes"}))
        .await
        .assert_error(422, "validation_failed");

    let me = app.get("/me", Some(&elder.access_token)).await;
    assert_eq!(
        me.assert_status(200)["care"],
        json!({"lives_alone": true, "empty_nest": true, "hardship": true})
    );
}

#[tokio::test]
async fn staff_list_members_by_role_and_search() {
    let app = spawn_app().await;
    let (community, staff) = app.community_with_staff("members").await;
    let (_, other_staff) = app.community_with_staff("members-elsewhere").await;
    let wang = app.resident_of(&community, "wang").await;
    app.patch(
        "/me",
        Some(&wang.access_token),
        json!({"nickname": "王大爷", "phone": "13900001111"}),
    )
    .await
    .assert_status(200);
    let li = app.resident_of(&community, "li").await;
    app.patch("/me", Some(&li.access_token), json!({"nickname": "李阿姨"}))
        .await
        .assert_status(200);
    app.grant(&staff, &community, &li, "partner", json!({}))
        .await
        .assert_status(204);

    let path = format!("/communities/{community}/members");
    let all = app.get(&path, Some(&staff.access_token)).await;
    assert_eq!(all.assert_status(200)["items"].as_array().unwrap().len(), 3);

    let partners = app
        .get(&format!("{path}?role=partner"), Some(&staff.access_token))
        .await;
    let items = partners.assert_status(200)["items"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["nickname"], "李阿姨");

    let by_name = app
        .get(&format!("{path}?q=%E7%8E%8B"), Some(&staff.access_token))
        .await;
    assert_eq!(by_name.assert_status(200)["items"][0]["nickname"], "王大爷");
    let by_phone = app
        .get(&format!("{path}?q=13900001111"), Some(&staff.access_token))
        .await;
    let found = by_phone.assert_status(200);
    assert_eq!(found["items"][0]["id"], json!(wang.user_id));
    assert_eq!(found["items"][0]["phone_masked"], "139****1111");
    assert!(!found.to_string().contains("13900001111"));

    let paged = app
        .get(&format!("{path}?limit=2"), Some(&staff.access_token))
        .await;
    let first = paged.assert_status(200).clone();
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest = app
        .get(
            &format!("{path}?limit=2&cursor={cursor}"),
            Some(&staff.access_token),
        )
        .await;
    assert_eq!(
        rest.assert_status(200)["items"].as_array().unwrap().len(),
        1
    );

    app.get(&path, Some(&wang.access_token))
        .await
        .assert_error(403, "forbidden");
    app.get(&path, Some(&other_staff.access_token))
        .await
        .assert_error(404, "not_found");
    app.get(&format!("{path}?role=emperor"), Some(&staff.access_token))
        .await
        .assert_error(400, "bad_request");
}
